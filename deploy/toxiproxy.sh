#!/usr/bin/env bash
# Toxiproxy (Shopify's fault-injecting TCP proxy), built from the Go module proxy, on loopback.
#
#   deploy/toxiproxy.sh build    go install the server and CLI into the cache (once per version)
#   deploy/toxiproxy.sh start    build if needed, start the API on 127.0.0.1:PR_TOXIPROXY_PORT, wait until it answers
#   deploy/toxiproxy.sh stop     stop the server started from this state directory
#   deploy/toxiproxy.sh status   exit 0 when the API answers
#   deploy/toxiproxy.sh path     print the directory holding the server and CLI binaries
#
# The binaries live outside the repository (PR_CACHE_DIR, default ~/.cache/pipeline-review);
# the log and pid file in PR_STATE_DIR (default .run/). Proxies are created by whoever uses it
# (tests/chaos/network.py through the HTTP API); the server starts with none.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# v2.5.0 is the newest version the module proxy serves under the github.com/Shopify/toxiproxy/v2 path.
VERSION="${PR_TOXIPROXY_VERSION:-v2.5.0}"
CACHE_DIR="${PR_CACHE_DIR:-$HOME/.cache/pipeline-review}"
BIN_DIR="$CACHE_DIR/toxiproxy-$VERSION"
STATE_DIR="${PR_STATE_DIR:-$ROOT/.run}"
HOST=127.0.0.1
PORT="${PR_TOXIPROXY_PORT:-8474}"
DIR="$STATE_DIR/toxiproxy"
PID_FILE="$DIR/toxiproxy.pid"
LOG_FILE="$STATE_DIR/logs/toxiproxy.log"

log() { echo "[toxiproxy] $*" >&2; }

build() {
  if [ -x "$BIN_DIR/server" ] && [ -x "$BIN_DIR/cli" ]; then return 0; fi
  command -v go >/dev/null || { log "Go is needed to build toxiproxy"; exit 1; }
  log "building toxiproxy $VERSION from the Go module proxy into $BIN_DIR"
  mkdir -p "$BIN_DIR"
  # A temporary GOBIN, moved in place only when both binaries built: a half build is never taken as done.
  local tmp; tmp="$(mktemp -d "$CACHE_DIR/.toxiproxy-build.XXXXXX")"
  (cd "$tmp" && GOBIN="$tmp" GOFLAGS=-mod=mod go install \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" "github.com/Shopify/toxiproxy/v2/cmd/cli@$VERSION")
  mv "$tmp/server" "$tmp/cli" "$BIN_DIR/" && rm -rf "$tmp"
}

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

answers() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

start() {
  if running; then log "already running (pid $(cat "$PID_FILE"))"; return 0; fi
  if answers; then log "port $HOST:$PORT is taken by another process"; exit 1; fi
  build
  mkdir -p "$DIR" "$STATE_DIR/logs"
  log "starting on $HOST:$PORT (log: $LOG_FILE)"
  nohup "$BIN_DIR/server" -host "$HOST" -port "$PORT" >>"$LOG_FILE" 2>&1 &
  echo $! > "$PID_FILE"
  for _ in $(seq 1 50); do
    if answers; then log "ready"; return 0; fi
    if ! running; then log "exited during start:"; tail -20 "$LOG_FILE" >&2; exit 1; fi
    sleep 0.2
  done
  log "not answering after 10s"; exit 1
}

stop() {
  if ! running; then rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  status) running && answers ;;
  path) echo "$BIN_DIR" ;;
  *) echo "usage: $0 build|start|stop|status|path" >&2; exit 2 ;;
esac
