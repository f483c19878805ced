#!/usr/bin/env bash
# Real Redis (Debian's redis-server) on loopback, with its own data directory and AOF on.
#
#   deploy/redis.sh start | stop | status
#
# Opt-in, for the secure setup (both off by default):
#   PR_REDIS_USER + PR_REDIS_PASSWORD  an ACL user with that password; the default user is off,
#                                      so every client must log in (redis://user:password@host:port/0)
#   PR_REDIS_TLS=1                     TLS only, with a throw-away CA and certificate made at start
#                                      (deploy/tls.sh) in $PR_STATE_DIR/redis/tls; clients use
#                                      rediss://...?ssl_ca_certs=$PR_STATE_DIR/redis/tls/ca.pem
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STATE_DIR="${PR_STATE_DIR:-$ROOT/.run}"
REDIS_HOST="${PR_REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${PR_REDIS_PORT:-6379}"
REDIS_DIR="$STATE_DIR/redis"
PID_FILE="$REDIS_DIR/redis.pid"
LOG_FILE="$STATE_DIR/logs/redis.log"
REDIS_USER="${PR_REDIS_USER:-}"
REDIS_PASSWORD="${PR_REDIS_PASSWORD:-}"
REDIS_TLS="${PR_REDIS_TLS:-0}"
TLS_DIR="$REDIS_DIR/tls"

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

# redis-cli as the configured user; the password travels in REDISCLI_AUTH, never in argv.
cli() {
  local args=(-h "$REDIS_HOST" -p "$REDIS_PORT")
  if [ "$REDIS_TLS" = 1 ]; then args+=(--tls --cacert "$TLS_DIR/ca.pem"); fi
  if [ -n "$REDIS_USER" ]; then
    REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli "${args[@]}" --user "$REDIS_USER" "$@"
  else
    redis-cli "${args[@]}" "$@"
  fi
}

check_security() {
  if [ -n "$REDIS_USER$REDIS_PASSWORD" ] && { [ -z "$REDIS_USER" ] || [ -z "$REDIS_PASSWORD" ]; }; then
    log "PR_REDIS_USER and PR_REDIS_PASSWORD go together"; exit 1
  fi
  case "$REDIS_USER$REDIS_PASSWORD" in
    *[[:space:]]*) log "PR_REDIS_USER/PR_REDIS_PASSWORD may not contain whitespace"; exit 1 ;;
  esac
  case "$REDIS_TLS" in 0|1) ;; *) log "PR_REDIS_TLS must be 0 or 1"; exit 1 ;; esac
}

# Extra redis-server options for the ACL user and TLS (in EXTRA); the password goes to a file, not argv.
security_options() {
  EXTRA=()
  MODE=""
  if [ -n "$REDIS_USER" ]; then
    (umask 077; printf 'user default off\nuser %s on >%s ~* &* +@all\n' "$REDIS_USER" "$REDIS_PASSWORD" \
      > "$REDIS_DIR/users.acl")
    EXTRA+=(--aclfile "$REDIS_DIR/users.acl")
    MODE="$MODE, ACL user $REDIS_USER"
  fi
  if [ "$REDIS_TLS" = 1 ]; then
    "$HERE/tls.sh" "$TLS_DIR" "$REDIS_HOST"
    EXTRA+=(--port 0 --tls-port "$REDIS_PORT" --tls-cert-file "$TLS_DIR/server.pem"
            --tls-key-file "$TLS_DIR/server.key" --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients no)
    MODE="$MODE, TLS"
  fi
}

start() {
  if running; then log "already running (pid $(cat "$PID_FILE"))"; return 0; fi
  check_security
  ensure_installed
  mkdir -p "$REDIS_DIR" "$STATE_DIR/logs"
  security_options
  log "starting redis-server on $REDIS_HOST:$REDIS_PORT$MODE (log: $LOG_FILE)"
  # The later --port 0 of a TLS start wins over this one: no plaintext port then.
  redis-server --bind "$REDIS_HOST" --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec --daemonize yes \
    --pidfile "$PID_FILE" --logfile "$LOG_FILE" --save "" "${EXTRA[@]}" >/dev/null
  for _ in $(seq 1 50); do
    if cli ping 2>/dev/null | grep -q PONG; then log "ready"; return 0; fi
    sleep 0.2
  done
  log "redis did not answer; see $LOG_FILE"; exit 1
}

stop() {
  if ! running; then rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping redis (pid $pid)"
  cli shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() { running && cli ping 2>/dev/null | grep -q PONG; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
