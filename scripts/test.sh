#!/usr/bin/env bash
# scripts/test.sh — the project's one test command.
#
#   scripts/test.sh                         # go vet ./... && go test -race -count=1 ./...
#   scripts/test.sh ./pkg/config/           # only these packages
#   scripts/test.sh -run TestLoad ./pkg/... # go test flags pass through (vet gets the packages)
#
# The tests talk to a real Redis through REDIS_TEST_URL. This script makes sure one answers:
#   1. REDIS_TEST_URL, if it is set and answers PING;
#   2. else redis://127.0.0.1:6379, if it answers PING;
#   3. else a throwaway redis-server on a free port from 6390 up (no persistence), stopped on
#      exit; redis-server is installed with apt-get when missing and we are root.
# Set REDIS_TEST_THROWAWAY=1 to skip 1 and 2 and always use a throwaway server.
# Set TEST_RACE=0 to run without the race detector (it needs cgo and a C compiler).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ping_url URL: does a Redis at URL answer PING with PONG?
ping_url() {
	local url=$1
	if command -v redis-cli >/dev/null 2>&1; then
		local out
		local t=()
		command -v timeout >/dev/null 2>&1 && t=(timeout 3)
		out=$(${t[@]+"${t[@]}"} redis-cli -u "$url" --no-auth-warning PING 2>/dev/null) || return 1
		[[ $out == PONG ]]
		return
	fi
	# No redis-cli: plain TCP. Only for URLs without credentials or TLS.
	local rest=${url#redis://}
	[[ $rest != "$url" && $rest != *@* ]] || return 1
	rest=${rest%%/*}
	local host=${rest%:*} port=${rest##*:}
	[[ $host != "$rest" ]] || port=6379
	ping_tcp "$host" "$port"
}

# ping_tcp HOST PORT: PING over bash's /dev/tcp.
ping_tcp() {
	local host=$1 port=$2 reply=""
	(
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		printf 'PING\r\n' >&3
		IFS= read -r -t 2 reply <&3 || exit 1
		[[ $reply == +PONG* ]]
	) 2>/dev/null
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ensure_redis_server() {
	command -v redis-server >/dev/null 2>&1 && return
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "redis-server not found; installing it with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends redis-server >&2
		command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after apt-get install"
		return
	fi
	die "no Redis answers and redis-server is not installed.
  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis),
  or point REDIS_TEST_URL at a Redis you can flush, e.g. REDIS_TEST_URL=redis://127.0.0.1:6379/15"
}

REDIS_PID=""
REDIS_DIR=""
cleanup() {
	if [[ -n $REDIS_PID ]]; then
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
	fi
	if [[ -n $REDIS_DIR ]]; then
		rm -rf "$REDIS_DIR"
	fi
}
trap cleanup EXIT

start_redis() {
	ensure_redis_server
	REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bridge-test-redis.XXXXXX")
	local port
	for port in $(seq 6390 6490); do
		port_free "$port" || continue
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" &
		REDIS_PID=$!
		local i
		for i in $(seq 1 50); do
			if ping_tcp 127.0.0.1 "$port"; then
				REDIS_TEST_URL="redis://127.0.0.1:$port"
				log "started a throwaway redis-server on port $port (pid $REDIS_PID)"
				return
			fi
			kill -0 "$REDIS_PID" 2>/dev/null || break # exited: port taken meanwhile?
			sleep 0.1
		done
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
		REDIS_PID=""
	done
	[[ -f $REDIS_DIR/redis.log ]] && tail -n 20 "$REDIS_DIR/redis.log" >&2
	die "could not start redis-server on any port in 6390-6490"
}

if [[ ${REDIS_TEST_THROWAWAY:-0} == 1 ]]; then
	start_redis
elif [[ -n ${REDIS_TEST_URL:-} ]] && ping_url "$REDIS_TEST_URL"; then
	log "using REDIS_TEST_URL (answers PING)"
else
	if [[ -n ${REDIS_TEST_URL:-} ]]; then
		log "REDIS_TEST_URL is set but does not answer PING; looking for another Redis"
	fi
	if ping_tcp 127.0.0.1 6379; then
		REDIS_TEST_URL="redis://127.0.0.1:6379"
		log "using the Redis on 127.0.0.1:6379"
	else
		start_redis
	fi
fi
export REDIS_TEST_URL

# Split the arguments: package patterns go to vet and test, flags to test only.
# Flags that take a separate value (-run X) keep it; prefer -run=X when in doubt.
pkgs=()
flags=()
while (($#)); do
	case $1 in
	-run | -skip | -bench | -benchtime | -count | -cpu | -parallel | -timeout | -tags | -coverprofile | \
		-coverpkg | -covermode | -cpuprofile | -memprofile | -blockprofile | -mutexprofile | -trace | \
		-outputdir | -shuffle | -fuzz | -fuzztime | -fuzzminimizetime | -list | -o | -p | -exec)
		(($# >= 2)) || die "flag $1 needs a value"
		flags+=("$1" "$2")
		shift 2
		;;
	-*)
		flags+=("$1")
		shift
		;;
	*)
		pkgs+=("$1")
		shift
		;;
	esac
done
((${#pkgs[@]})) || pkgs=(./...)

race=(-race)
if [[ ${TEST_RACE:-1} == 0 ]]; then
	race=()
	log "TEST_RACE=0: running without the race detector"
elif [[ $(go env CGO_ENABLED) != 1 ]] || ! command -v "$(go env CC)" >/dev/null 2>&1; then
	die "the race detector needs cgo and a C compiler ($(go env CC)): install gcc (apt-get install gcc), or run with TEST_RACE=0"
fi

log "go vet ${pkgs[*]}"
go vet "${pkgs[@]}"

log "go test ${race[*]-} -count=1 ${flags[*]-} ${pkgs[*]}  (REDIS_TEST_URL=$REDIS_TEST_URL)"
go test ${race[@]+"${race[@]}"} -count=1 ${flags[@]+"${flags[@]}"} "${pkgs[@]}"
