# syntax=docker/dockerfile:1
# Container image of the bridge (local runs, CI, container platforms). Heroku's Go buildpack
# ignores this file and uses Procfile + app.json.
#
#   docker build -t line-sf-bridge .
#   docker run --rm -p 8080:8080 -e REDIS_URL=redis://host.docker.internal:6379 \
#     -e LIVEAGENT_HOST=… -e LIVEAGENT_ORGANIZATION_ID=… -e LIVEAGENT_DEPLOYMENT_ID=… \
#     -e LIVEAGENT_BUTTON_ID=… line-sf-bridge
#   docker run --rm -p 8080:8080 line-sf-bridge --demo
#   docker run --rm -p 8081:8080 --entrypoint liveagent-sim line-sf-bridge

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    mkdir -p /out && go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
# The binaries (bridge, liveagent-sim) on PATH; configs/ beside the working directory, so a
# configs/config.yaml mounted at /app/configs/config.yaml is read (or set CONFIG_FILE).
COPY --from=build /out/ /usr/local/bin/
WORKDIR /app
COPY configs/ /app/configs/
USER nonroot:nonroot
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/bridge"]
