#!/usr/bin/env bash
# Real Apache Kafka in KRaft mode, without Docker: one node (the default) or a local cluster.
#
#   deploy/kafka.sh fetch   copy the broker jars from Maven Central into the cache
#   deploy/kafka.sh start   fetch if needed, format storage once, start every node not running, wait until ready
#   deploy/kafka.sh stop    stop every node started from this state directory
#   deploy/kafka.sh status  exit 0 when every node answers (a cluster: one line per node)
#
# PR_KAFKA_NODES=N (default 1) starts N combined broker+controller nodes with one KRaft
# controller quorum: node i (1..N) listens on PR_KAFKA_PORT+i-1, its controller on
# PR_KAFKA_CONTROLLER_PORT+i-1 (default PR_KAFKA_PORT+N), and keeps its data, config and pid
# file in $PR_STATE_DIR/kafka/node<i>, its log in $PR_STATE_DIR/logs/kafka-node<i>.log.
# With three nodes or more, the internal topics (consumer offsets, transaction state) and
# topics created without a replication factor get 3 replicas and min.insync.replicas 2.
# `start` on a cluster where some nodes run starts only the others: that is how a killed node
# is brought back. One node keeps the single-node layout ($PR_STATE_DIR/kafka, logs/kafka.log).
#
# Jars are cached outside the repository (PR_CACHE_DIR, default ~/.cache/pipeline-review);
# data, logs and the pid file live in PR_STATE_DIR (default .run/ in the repository).
#
# PR_KAFKA_ADVERTISED=host:port makes the broker tell clients to connect there instead of its own
# listener: a proxy in front of it (the network-fault scenario's toxiproxy) then carries every
# client connection, not only the bootstrap one.
#
# PR_KAFKA_SECURITY=sasl_ssl (opt-in; default plaintext) makes the client listener SASL_SSL with
# SCRAM-SHA-512: a throw-away CA and broker certificate are made at start (deploy/tls.sh) in
# $PR_STATE_DIR/kafka/tls (clients trust tls/ca.pem: PR_KAFKA_SSL_CAFILE), and the user
# PR_KAFKA_SASL_USERNAME / PR_KAFKA_SASL_PASSWORD is created when the storage is formatted.
# The broker talks to itself over that listener too; only the KRaft controller listener stays
# PLAINTEXT, on loopback.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
KAFKA_VERSION="${PR_KAFKA_VERSION:-3.9.1}"
CACHE_DIR="${PR_CACHE_DIR:-$HOME/.cache/pipeline-review}"
JAR_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
STATE_DIR="${PR_STATE_DIR:-$ROOT/.run}"
KAFKA_HOST="${PR_KAFKA_HOST:-127.0.0.1}"
NODES="${PR_KAFKA_NODES:-1}"
case "$NODES" in ''|*[!0-9]*|0) echo "[kafka] PR_KAFKA_NODES must be a positive whole number, not '$NODES'" >&2; exit 2 ;; esac
BASE_PORT="${PR_KAFKA_PORT:-9092}"
# One node: the controller on the next port. N nodes: the N ports after the N broker ports.
if [ "$NODES" -eq 1 ]; then BASE_CONTROLLER_PORT="${PR_KAFKA_CONTROLLER_PORT:-$((BASE_PORT + 1))}"
else BASE_CONTROLLER_PORT="${PR_KAFKA_CONTROLLER_PORT:-$((BASE_PORT + NODES))}"; fi
if [ "$BASE_CONTROLLER_PORT" -lt $((BASE_PORT + NODES)) ] && [ $((BASE_CONTROLLER_PORT + NODES)) -gt "$BASE_PORT" ]; then
  echo "[kafka] controller ports $BASE_CONTROLLER_PORT.. overlap broker ports $BASE_PORT..$((BASE_PORT + NODES - 1))" >&2; exit 2
fi
START_TIMEOUT="${PR_KAFKA_START_TIMEOUT:-90}"
SECURITY="${PR_KAFKA_SECURITY:-plaintext}"
# Shared by every node of a cluster: one CA, one broker certificate for $KAFKA_HOST.
TLS_DIR="$STATE_DIR/kafka/tls"

log() { echo "[kafka] $*" >&2; }

# Point NODE_ID, KAFKA_PORT, CONTROLLER_PORT, KAFKA_DIR, PID_FILE and LOG_FILE at node $1.
select_node() {
  NODE_ID="$1"
  KAFKA_PORT=$((BASE_PORT + NODE_ID - 1))
  CONTROLLER_PORT=$((BASE_CONTROLLER_PORT + NODE_ID - 1))
  if [ "$NODES" -eq 1 ]; then
    KAFKA_DIR="$STATE_DIR/kafka"; LOG_FILE="$STATE_DIR/logs/kafka.log"
  else
    KAFKA_DIR="$STATE_DIR/kafka/node$NODE_ID"; LOG_FILE="$STATE_DIR/logs/kafka-node$NODE_ID.log"
  fi
  PID_FILE="$KAFKA_DIR/kafka.pid"
  # A proxy address (PR_KAFKA_ADVERTISED) stands in front of a single node only; each node of a
  # cluster advertises its own port.
  if [ "$NODES" -eq 1 ] && [ -n "${PR_KAFKA_ADVERTISED:-}" ]; then
    ADVERTISED="$PR_KAFKA_ADVERTISED"
  else
    ADVERTISED="$KAFKA_HOST:$KAFKA_PORT"
  fi
}

quorum_voters() {
  local voters="" i
  for i in $(seq 1 "$NODES"); do voters="$voters${voters:+,}$i@$KAFKA_HOST:$((BASE_CONTROLLER_PORT + i - 1))"; done
  echo "$voters"
}

# Replicas of the internal topics and the broker's defaults: as many as the nodes, at most 3;
# with 3, a write acknowledged by acks=all is on 2 nodes at least.
replication_config() {
  local replicas=$(( NODES < 3 ? NODES : 3 )) min_isr=$(( NODES < 3 ? 1 : 2 ))
  if [ "$NODES" -eq 1 ]; then echo "# One broker: internal topics cannot have more than one replica."
  else echo "# $NODES nodes: internal topics get $replicas replicas; acks=all needs $min_isr of them in sync."; fi
  cat <<PROPS
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
default.replication.factor=$replicas
min.insync.replicas=$min_isr
PROPS
}

fetch() {
  if [ -f "$JAR_DIR/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is needed to fetch the Kafka jars"; exit 1; }
  command -v java >/dev/null || { log "Java 17 is needed to run Kafka"; exit 1; }
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $JAR_DIR"
  rm -rf "$JAR_DIR" && mkdir -p "$JAR_DIR"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$JAR_DIR"
  touch "$JAR_DIR/.complete"
}

running() {
  [ -f "$PID_FILE" ] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  # A killed broker its parent has not reaped yet is a zombie: it runs no more.
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$KAFKA_PORT") 2>/dev/null; }

check_security() {
  case "$SECURITY" in
    plaintext) ;;
    sasl_ssl)
      if [ -z "${PR_KAFKA_SASL_USERNAME:-}" ] || [ -z "${PR_KAFKA_SASL_PASSWORD:-}" ]; then
        log "PR_KAFKA_SECURITY=sasl_ssl needs PR_KAFKA_SASL_USERNAME and PR_KAFKA_SASL_PASSWORD"; exit 1
      fi
      case "$PR_KAFKA_SASL_USERNAME$PR_KAFKA_SASL_PASSWORD" in
        *[\"\;,=\]\[]*) log "PR_KAFKA_SASL_USERNAME/PASSWORD may not contain quotes, backslashes, ; , = [ ]"; exit 1 ;;
      esac ;;
    *) log "PR_KAFKA_SECURITY must be plaintext or sasl_ssl, not '$SECURITY'"; exit 1 ;;
  esac
}

# The broker's certificate as a PKCS12 keystore, from deploy/tls.sh's PEM files.
make_keystore() {
  "$HERE/tls.sh" "$TLS_DIR" "$KAFKA_HOST"
  if [ ! -f "$TLS_DIR/broker.p12" ]; then
    (umask 077; openssl rand -hex 16 > "$TLS_DIR/keystore.password")
    openssl pkcs12 -export -in "$TLS_DIR/server.pem" -inkey "$TLS_DIR/server.key" -name broker \
      -passout "file:$TLS_DIR/keystore.password" -out "$TLS_DIR/broker.p12"
    chmod 600 "$TLS_DIR/broker.p12"
  fi
}

listener_config() {
  if [ "$SECURITY" = plaintext ]; then
    cat <<PROPS
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$ADVERTISED
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
    return
  fi
  cat <<PROPS
listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$ADVERTISED
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$PR_KAFKA_SASL_USERNAME" password="$PR_KAFKA_SASL_PASSWORD";
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$(cat "$TLS_DIR/keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.client.auth=none
PROPS
}

write_config() {
  mkdir -p "$KAFKA_DIR/data" "$STATE_DIR/logs"
  # It may hold the SCRAM password and the keystore's: readable by its owner only.
  (umask 077; : > "$KAFKA_DIR/server.properties")
  cat > "$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$(quorum_voters)
$(listener_config)
log.dirs=$KAFKA_DIR/data
# The project creates its own topics with the partitions it needs.
auto.create.topics.enable=false
num.partitions=1
$(replication_config)
# Without this every consumer-group join waits three seconds for more members.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.hours=-1
log.segment.bytes=104857600
PROPS
}

# Format (once) and launch the selected node, without waiting for it.
launch_node() {
  if port_open; then log "port $KAFKA_HOST:$KAFKA_PORT is taken by another process"; exit 1; fi
  write_config
  local cp="$JAR_DIR/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "formatting KRaft storage in $KAFKA_DIR/data"
    local scram=()
    if [ "$SECURITY" = sasl_ssl ]; then
      # KRaft keeps SCRAM users in the metadata log: the first one is written at format time.
      scram=(--add-scram "SCRAM-SHA-512=[name=$PR_KAFKA_SASL_USERNAME,password=$PR_KAFKA_SASL_PASSWORD]")
    fi
    # Every node of a cluster is formatted with the same cluster id.
    java -cp "$cp" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" kafka.tools.StorageTool format \
      -t "pipeline-review-local-cluster" -c "$KAFKA_DIR/server.properties" "${scram[@]}" >>"$LOG_FILE" 2>&1
  fi
  # A restarted node's log must not say "started" before it has: readiness is read from it.
  LOG_START="$( (wc -l < "$LOG_FILE") 2>/dev/null || echo 0)"
  if [ "$NODES" -eq 1 ]; then log "starting broker on $KAFKA_HOST:$KAFKA_PORT ($SECURITY; log: $LOG_FILE)"
  else log "starting broker $NODE_ID of $NODES on $KAFKA_HOST:$KAFKA_PORT ($SECURITY; log: $LOG_FILE)"; fi
  KAFKA_HEAP="${PR_KAFKA_HEAP:--Xms256m -Xmx1g}"
  # shellcheck disable=SC2086
  nohup java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
    -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" >>"$LOG_FILE" 2>&1 &
  echo $! > "$PID_FILE"
  echo "$LOG_START" > "$KAFKA_DIR/log-start"
}

# Wait until the selected node says (in the lines logged since its launch) it started, and its port answers.
wait_node() {
  local waited=0 from; from=$(( $(cat "$KAFKA_DIR/log-start" 2>/dev/null || echo 0) + 1 ))
  until tail -n "+$from" "$LOG_FILE" 2>/dev/null | grep -q "Kafka Server started" && port_open; do
    if ! running; then
      log "broker $NODE_ID exited during start; its first errors, then the last lines of $LOG_FILE:"
      # The cause (a port already taken, a bad certificate) comes before the shutdown's tail.
      tail -n "+$from" "$LOG_FILE" | grep -m 3 -E "ERROR|Exception" >&2 || true
      tail -20 "$LOG_FILE" >&2; exit 1
    fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then log "broker $NODE_ID not ready after ${START_TIMEOUT}s"; exit 1; fi
    sleep 1; waited=$((waited + 1))
  done
  log "ready after ${waited}s"
}

start() {
  check_security
  fetch
  if [ "$SECURITY" = sasl_ssl ]; then mkdir -p "$TLS_DIR" && make_keystore; fi
  # Every node first, then the waits: no node is ready before the controller quorum has a majority.
  local launched=() i
  for i in $(seq 1 "$NODES"); do
    select_node "$i"
    if running; then
      if [ "$NODES" -eq 1 ]; then log "already running (pid $(cat "$PID_FILE"))"; else log "broker $i already running (pid $(cat "$PID_FILE"))"; fi
      continue
    fi
    launch_node
    launched+=("$i")
  done
  for i in "${launched[@]}"; do select_node "$i"; wait_node; done
}

stop_node() {
  if ! running; then rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping broker (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

stop() { local i; for i in $(seq 1 "$NODES"); do select_node "$i"; stop_node; done; }

status() {
  local i state failed=0
  for i in $(seq 1 "$NODES"); do
    select_node "$i"
    if running && port_open; then state=up; else state=down; failed=1; fi
    if [ "$NODES" -gt 1 ]; then echo "broker $i $KAFKA_HOST:$KAFKA_PORT $state"; fi
  done
  return "$failed"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
