#!/usr/bin/env bash
# Real Redis (Debian's redis-server) on loopback, with its own data directory and AOF on.
#
#   deploy/redis.sh start | stop | status
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STATE_DIR="${PR_STATE_DIR:-$ROOT/.run}"
REDIS_HOST="${PR_REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${PR_REDIS_PORT:-6379}"
REDIS_DIR="$STATE_DIR/redis"
PID_FILE="$REDIS_DIR/redis.pid"
LOG_FILE="$STATE_DIR/logs/redis.log"

log() { echo "[redis] $*" >&2; }

ensure_installed() {
  command -v redis-server >/dev/null && return 0
  log "installing Debian's redis-server"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
}

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

start() {
  if running; then log "already running (pid $(cat "$PID_FILE"))"; return 0; fi
  ensure_installed
  mkdir -p "$REDIS_DIR" "$STATE_DIR/logs"
  log "starting redis-server on $REDIS_HOST:$REDIS_PORT (log: $LOG_FILE)"
  redis-server --bind "$REDIS_HOST" --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec --daemonize yes \
    --pidfile "$PID_FILE" --logfile "$LOG_FILE" --save "" >/dev/null
  for _ in $(seq 1 50); do
    if redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then log "ready"; return 0; fi
    sleep 0.2
  done
  log "redis did not answer; see $LOG_FILE"; exit 1
}

stop() {
  if ! running; then rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping redis (pid $pid)"
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() { running && redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
