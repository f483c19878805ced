#!/usr/bin/env bash
# The whole pipeline on this machine: Kafka, Redis, ingest, scoring, review.
#
#   deploy/stack.sh up       install what is missing, start everything, wait, load demo data
#   deploy/stack.sh down     stop everything this state directory started
#   deploy/stack.sh status   show what runs
#   deploy/stack.sh logs     follow the logs
#   deploy/stack.sh supervise NAME   (internal) run pr-NAME, restarting it whenever it exits
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PR_STATE_DIR="${PR_STATE_DIR:-$ROOT/.run}"
VENV="${PR_VENV:-$ROOT/.venv}"
PIDS="$PR_STATE_DIR/pids"
LOGS="$PR_STATE_DIR/logs"
export PR_KAFKA_HOST="${PR_KAFKA_HOST:-127.0.0.1}" PR_KAFKA_PORT="${PR_KAFKA_PORT:-9092}"
export PR_REDIS_HOST="${PR_REDIS_HOST:-127.0.0.1}" PR_REDIS_PORT="${PR_REDIS_PORT:-6379}"
export PR_KAFKA_BOOTSTRAP="${PR_KAFKA_BOOTSTRAP:-$PR_KAFKA_HOST:$PR_KAFKA_PORT}"
# The secure local setup (PR_KAFKA_SECURITY=sasl_ssl, PR_REDIS_USER/PR_REDIS_PASSWORD, PR_REDIS_TLS=1,
# see kafka.sh and redis.sh) gives the services the matching client settings, unless set already.
if [ "${PR_KAFKA_SECURITY:-plaintext}" = sasl_ssl ]; then
  export PR_KAFKA_SECURITY_PROTOCOL="${PR_KAFKA_SECURITY_PROTOCOL:-SASL_SSL}"
  export PR_KAFKA_SASL_MECHANISM="${PR_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}"
  export PR_KAFKA_SSL_CAFILE="${PR_KAFKA_SSL_CAFILE:-$PR_STATE_DIR/kafka/tls/ca.pem}"
fi
redis_scheme=redis redis_login="" redis_query=""
if [ "${PR_REDIS_TLS:-0}" = 1 ]; then redis_scheme=rediss redis_query="?ssl_ca_certs=$PR_STATE_DIR/redis/tls/ca.pem"; fi
if [ -n "${PR_REDIS_USER:-}" ]; then redis_login="$PR_REDIS_USER:${PR_REDIS_PASSWORD:-}@"; fi
export PR_REDIS_URL="${PR_REDIS_URL:-$redis_scheme://$redis_login$PR_REDIS_HOST:$PR_REDIS_PORT/0$redis_query}"
# What is printed never shows the password.
REDIS_SHOWN="$(printf '%s' "$PR_REDIS_URL" | sed -E 's#//([^:/@]*):[^/]*@#//\1:***@#')"
INGEST_PORT="${PR_INGEST_PORT:-8001}" REVIEW_PORT="${PR_REVIEW_PORT:-8002}" SCORING_PORT="${PR_SCORING_WEB_PORT:-8003}"
export PR_SCORING_DATA_DIR="${PR_SCORING_DATA_DIR:-$PR_STATE_DIR/scoring}"
DEMO="${PR_DEMO:-1}"
SERVICES=(ingest scoring review)

log() { echo "[stack] $*" >&2; }

# $name.pid is the service process itself, $name.supervisor.pid the loop that restarts it.
service_running() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }
supervisor_running() { [ -f "$PIDS/$1.supervisor.pid" ] && kill -0 "$(cat "$PIDS/$1.supervisor.pid")" 2>/dev/null; }

# Run a service and bring it back whenever it exits, waiting 1, 2, 4 ... up to 30 s between
# tries (back to 1 s once it ran for a minute); every exit and restart is logged. `down`
# stops the loop first, then the service. Runs in the background, one per service.
supervise() {
  local name="$1" delay=1 started pid status
  trap 'exit 0' TERM INT
  while true; do
    started=$(date +%s)
    "$VENV/bin/pr-$name" >>"$LOGS/$name.log" 2>&1 &
    pid=$!
    echo "$pid" > "$PIDS/$name.pid"
    status=0
    wait "$pid" || status=$?
    if [ $(( $(date +%s) - started )) -ge 60 ]; then delay=1; fi
    echo "[stack] $(date -u +%FT%TZ) $name (pid $pid) exited with status $status; restarting in ${delay}s" \
      | tee -a "$LOGS/$name.log" >>"$LOGS/supervisor.log"
    sleep "$delay" & wait $!  # in the background, so that `down` does not wait for it
    delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
  done
}

start_service() {
  local name="$1"
  if supervisor_running "$name" || service_running "$name"; then log "$name already running"; return 0; fi
  log "starting $name, restarted whenever it exits (log: $LOGS/$name.log)"
  nohup "$HERE/stack.sh" supervise "$name" </dev/null >/dev/null 2>&1 &
  echo $! > "$PIDS/$name.supervisor.pid"
  for _ in $(seq 1 20); do [ -f "$PIDS/$name.pid" ] && break; sleep 0.1; done
}

stop_pid() {
  local pid="$1"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

wait_ready() {
  local name="$1" url="$2" timeout="${3:-90}" waited=0
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if ! service_running "$name"; then log "$name exited; last lines of $LOGS/$name.log:"; tail -20 "$LOGS/$name.log" >&2; exit 1; fi
    if [ "$waited" -ge "$((timeout * 2))" ]; then log "$name not ready after ${timeout}s ($url)"; exit 1; fi
    sleep 0.5; waited=$((waited + 1))
  done
  log "$name ready"
}

up() {
  mkdir -p "$PIDS" "$LOGS"
  "$HERE/setup.sh"
  "$HERE/kafka.sh" start
  "$HERE/redis.sh" start
  "$VENV/bin/pr-admin" create-topics
  start_service scoring
  start_service ingest
  start_service review
  wait_ready ingest "http://127.0.0.1:$INGEST_PORT/readyz"
  wait_ready review "http://127.0.0.1:$REVIEW_PORT/readyz"
  wait_ready scoring "http://127.0.0.1:$SCORING_PORT/readyz" 120
  if [ "$DEMO" = "1" ]; then load_demo; fi
  cat <<MSG

Pipeline Review is up.
  dashboard     http://127.0.0.1:$REVIEW_PORT/
  leader list   http://127.0.0.1:$REVIEW_PORT/v1/lists/leader
  manager list  http://127.0.0.1:$REVIEW_PORT/v1/lists/manager
  review API    http://127.0.0.1:$REVIEW_PORT/docs
  ingest API    http://127.0.0.1:$INGEST_PORT/docs
  scoring       http://127.0.0.1:$SCORING_PORT/readyz
  Kafka         $PR_KAFKA_BOOTSTRAP      Redis  $REDIS_SHOWN
  logs          make logs            stop: make down
MSG
}

load_demo() {
  # With PR_INGEST_API_KEYS set, pr-import and pr-demo-alerts send the first key that may
  # post csv / api (or PR_API_KEY); with none, ingest runs open on loopback.
  log "loading demo data (the Maven CRM dataset, dates shifted to today) through ingest"
  "$VENV/bin/pr-import" "$ROOT/data/crm-sales-opportunities/sales_pipeline.csv" --mode import --shift-to today \
    --ingest-url "http://127.0.0.1:$INGEST_PORT"
  "$VENV/bin/pr-demo-alerts" --ingest-url "http://127.0.0.1:$INGEST_PORT"
  # Wait until scoring has folded the demo, so neither the lists nor the alert feed are
  # empty when we return. The discount requests were posted last, so once their alerts
  # are in the feed the import before them has been folded too.
  local waited=0
  until [ "$(count_items leader)" != "0" ] && [ "$(count_items alerts)" != "0" ]; do
    if [ "$waited" -ge 240 ]; then
      log "demo data did not reach the lists and the alert feed within 120s (read with the first admin or" \
          "dashboard key of PR_REVIEW_API_KEYS when keys are set; a manager key sees only its teams)"
      exit 1
    fi
    sleep 0.5; waited=$((waited + 1))
  done
  log "demo data visible on the lists and in the alert feed"
  # Three demo managers act through review, so the scorecard is not empty (open mode only).
  "$VENV/bin/python" -m services.review.demo --review-url "http://127.0.0.1:$REVIEW_PORT" \
    || log "the demo managers' actions were not all posted (see above); the scorecard may be empty"
}

# A configured review key that reads every team (admin or dashboard), else any configured key
# (a manager sees its teams only); empty when review runs open. Read by review's own settings
# and key table, so it accepts exactly what review does.
review_key() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null || true
from services.review.access import KeyTable
from services.review.settings import ReviewSettings
settings = ReviewSettings()
keys = KeyTable.from_settings(settings.api_keys.get_secret_value() if settings.api_keys else None,
                              settings.api_keys_file)
print(keys.first_key(lambda principal: principal.teams is None) or keys.first_key(lambda _: True) or "")
PY
}

# Items on the first page of the leader list or the alert feed (0 when review does not answer).
count_items() {
  local path="/v1/lists/leader?limit=1" key
  [ "$1" = "alerts" ] && path="/v1/alerts?limit=1"
  key="$(review_key)"
  curl -fsS ${key:+-H "X-API-Key: $key"} "http://127.0.0.1:$REVIEW_PORT$path" 2>/dev/null \
    | "$VENV/bin/python" -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' 2>/dev/null || echo 0
}

down() {
  for name in "${SERVICES[@]}"; do
    # The supervisor first, so that it does not start the service again.
    if supervisor_running "$name"; then stop_pid "$(cat "$PIDS/$name.supervisor.pid")"; fi
    if service_running "$name"; then
      local pid; pid="$(cat "$PIDS/$name.pid")"
      log "stopping $name (pid $pid)"
      stop_pid "$pid"
    fi
    rm -f "$PIDS/$name.pid" "$PIDS/$name.supervisor.pid"
  done
  "$HERE/redis.sh" stop
  "$HERE/kafka.sh" stop
}

status() {
  for name in "${SERVICES[@]}"; do
    local restarts=0
    [ -f "$LOGS/supervisor.log" ] && restarts=$(grep -c " $name (pid" "$LOGS/supervisor.log" || true)
    if service_running "$name"; then echo "$name: running (pid $(cat "$PIDS/$name.pid"), restarted $restarts time(s))"
    elif supervisor_running "$name"; then echo "$name: restarting (restarted $restarts time(s))"
    else echo "$name: stopped"; fi
  done
  if "$HERE/kafka.sh" status; then echo "kafka: running"; else echo "kafka: stopped"; fi
  if "$HERE/redis.sh" status; then echo "redis: running"; else echo "redis: stopped"; fi
}

logs() { mkdir -p "$LOGS"; tail -n 50 -F "$LOGS"/*.log; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  logs) logs ;;
  supervise) mkdir -p "$PIDS" "$LOGS"; supervise "${2:?usage: $0 supervise NAME}" ;;
  *) echo "usage: $0 up|down|status|logs" >&2; exit 2 ;;
esac
