#!/usr/bin/env bash
# A local Redis Cluster of three masters (Debian's redis-server in cluster mode) on loopback.
#
#   deploy/redis-cluster.sh start | stop | status
#
# Ports: PR_REDIS_CLUSTER_PORT (default 7000) and the next two; each node's cluster bus listens on
# its port + PR_REDIS_CLUSTER_BUS_OFFSET (default 100; Redis's own +10000 could land on a port in use).
# Data, node tables and pid files in $PR_STATE_DIR/redis-cluster/<port>, logs in $PR_STATE_DIR/logs.
# No replicas: the test needs three masters sharing the 16384 slots, not failover.
# Services use it with PR_REDIS_CLUSTER=true PR_REDIS_URL=redis://127.0.0.1:<port>/0: redis-py's
# RedisCluster learns the other nodes from the first, and every key carries the hash tag {prefix}.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STATE_DIR="${PR_STATE_DIR:-$ROOT/.run}"
HOST=127.0.0.1
BASE_PORT="${PR_REDIS_CLUSTER_PORT:-7000}"
BUS_OFFSET="${PR_REDIS_CLUSTER_BUS_OFFSET:-100}"
PORTS=("$BASE_PORT" "$((BASE_PORT + 1))" "$((BASE_PORT + 2))")
DIR="$STATE_DIR/redis-cluster"

log() { echo "[redis-cluster] $*" >&2; }

ensure_installed() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  log "installing Debian's redis-server"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
}

pid_file() { echo "$DIR/$1/redis.pid"; }
node_running() { [ -f "$(pid_file "$1")" ] && kill -0 "$(cat "$(pid_file "$1")")" 2>/dev/null; }
cli() { local port="$1"; shift; redis-cli -h "$HOST" -p "$port" "$@"; }
cluster_ok() { cli "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start_node() {
  local port="$1"
  if node_running "$port"; then return 0; fi
  mkdir -p "$DIR/$port" "$STATE_DIR/logs"
  redis-server --bind "$HOST" --port "$port" --dir "$DIR/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$((port + BUS_OFFSET))" \
    --cluster-node-timeout 5000 --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$(pid_file "$port")" --logfile "$STATE_DIR/logs/redis-cluster-$port.log" >/dev/null
}

start() {
  ensure_installed
  for port in "${PORTS[@]}"; do start_node "$port"; done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do cli "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    cli "$port" ping 2>/dev/null | grep -q PONG || { log "node $port did not answer; see $STATE_DIR/logs/redis-cluster-$port.log"; exit 1; }
  done
  # A node table kept from an earlier start (nodes.conf) already holds the slots: no create then.
  if ! cluster_ok "$BASE_PORT"; then
    if [ "$(cli "$BASE_PORT" cluster info | sed -n 's/^cluster_slots_assigned:\([0-9]*\).*/\1/p')" = 0 ]; then
      log "creating the cluster: three masters on $HOST:${PORTS[0]}-${PORTS[2]}"
      redis-cli --cluster create "${PORTS[@]/#/$HOST:}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 \
        || { log "cluster create failed:"; tail -20 "$DIR/create.log" >&2; exit 1; }
    fi
  fi
  for _ in $(seq 1 100); do
    local all=1
    for port in "${PORTS[@]}"; do cluster_ok "$port" || all=0; done
    if [ "$all" = 1 ]; then log "ready on $HOST:${PORTS[0]}-${PORTS[2]}"; return 0; fi
    sleep 0.1
  done
  log "the cluster did not reach cluster_state:ok"; cli "$BASE_PORT" cluster info >&2 || true; exit 1
}

stop() {
  for port in "${PORTS[@]}"; do
    node_running "$port" || { rm -f "$(pid_file "$port")"; continue; }
    local pid; pid="$(cat "$(pid_file "$port")")"
    cli "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$(pid_file "$port")"
  done
}

status() { for port in "${PORTS[@]}"; do node_running "$port" && cluster_ok "$port" || return 1; done; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
