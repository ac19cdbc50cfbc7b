# Day-to-day targets. The one test command is scripts/test.sh (CI runs .ci/run).
#   make test PKG=./pkg/config/      # limit to some packages
#   make test ARGS='-run TestLoad -v'

PKG  ?= ./...
ARGS ?=
BIN  ?= bin
GO   ?= go
STATICCHECK_VERSION ?= latest

.PHONY: help fmt vet lint test test-race bench run demo sim build docker clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

fmt: ## gofmt -w (and goimports, if installed)
	gofmt -w $$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*')
	@if command -v goimports >/dev/null 2>&1; then \
		goimports -local github.com/line-sf-bridge/bridge -w $$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*'); \
	else echo "goimports not installed: skipped (go install golang.org/x/tools/cmd/goimports@latest)"; fi

vet: ## go vet
	$(GO) vet $(PKG)

lint: vet ## go vet + staticcheck (installed, or fetched through the module proxy; skipped if neither works)
	@if command -v staticcheck >/dev/null 2>&1; then \
		echo "staticcheck $(PKG)"; staticcheck $(PKG); \
	elif $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -version >/dev/null 2>&1; then \
		echo "staticcheck@$(STATICCHECK_VERSION) $(PKG)"; $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKG); \
	else echo "staticcheck unavailable (not installed, cannot be fetched): skipped"; fi

test: ## scripts/test.sh: Redis for the tests, go vet, go test -race
	scripts/test.sh $(ARGS) $(PKG)

test-race: ## the same, insisting on the race detector
	TEST_RACE=1 scripts/test.sh $(ARGS) $(PKG)

bench: ## benchmarks only (no tests)
	$(GO) test -run '^$$' -bench . -benchmem $(ARGS) $(PKG)

run: ## the bridge, configured from the environment / configs/config.yaml
	$(GO) run ./cmd/bridge

demo: ## everything in one process: embedded store, Live Agent simulator, demo pages
	$(GO) run ./cmd/bridge --demo

sim: ## the stand-alone Live Agent simulator
	$(GO) run ./cmd/liveagent-sim

build: ## static binaries of ./cmd/... into bin/
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/ ./cmd/...

docker: ## container image line-sf-bridge:dev
	docker build -t line-sf-bridge:dev .

clean: ## remove build output
	rm -rf $(BIN) dist
