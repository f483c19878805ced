#!/usr/bin/env bash
# Real Apache Kafka, single node in KRaft mode, without Docker.
#
#   deploy/kafka.sh fetch   copy the broker jars from Maven Central into the cache
#   deploy/kafka.sh start   fetch if needed, format storage once, start, wait until ready
#   deploy/kafka.sh stop    stop the broker started from this state directory
#   deploy/kafka.sh status  exit 0 when the broker answers
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
KAFKA_PORT="${PR_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${PR_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_DIR="$STATE_DIR/kafka"
PID_FILE="$KAFKA_DIR/kafka.pid"
LOG_FILE="$STATE_DIR/logs/kafka.log"
START_TIMEOUT="${PR_KAFKA_START_TIMEOUT:-90}"
SECURITY="${PR_KAFKA_SECURITY:-plaintext}"
TLS_DIR="$KAFKA_DIR/tls"
ADVERTISED="${PR_KAFKA_ADVERTISED:-$KAFKA_HOST:$KAFKA_PORT}"

log() { echo "[kafka] $*" >&2; }

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

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

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
  if [ "$SECURITY" = sasl_ssl ]; then make_keystore; fi
  # It may hold the SCRAM password and the keystore's: readable by its owner only.
  (umask 077; : > "$KAFKA_DIR/server.properties")
  cat > "$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$CONTROLLER_PORT
$(listener_config)
log.dirs=$KAFKA_DIR/data
# The project creates its own topics with the partitions it needs.
auto.create.topics.enable=false
num.partitions=1
# One broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# Without this every consumer-group join waits three seconds for more members.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.hours=-1
log.segment.bytes=104857600
PROPS
}

start() {
  if running; then log "already running (pid $(cat "$PID_FILE"))"; return 0; fi
  if port_open; then log "port $KAFKA_HOST:$KAFKA_PORT is taken by another process"; exit 1; fi
  check_security
  fetch
  write_config
  local cp="$JAR_DIR/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "formatting KRaft storage in $KAFKA_DIR/data"
    local scram=()
    if [ "$SECURITY" = sasl_ssl ]; then
      # KRaft keeps SCRAM users in the metadata log: the first one is written at format time.
      scram=(--add-scram "SCRAM-SHA-512=[name=$PR_KAFKA_SASL_USERNAME,password=$PR_KAFKA_SASL_PASSWORD]")
    fi
    java -cp "$cp" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" kafka.tools.StorageTool format \
      -t "pipeline-review-local-cluster" -c "$KAFKA_DIR/server.properties" "${scram[@]}" >>"$LOG_FILE" 2>&1
  fi
  log "starting broker on $KAFKA_HOST:$KAFKA_PORT ($SECURITY; log: $LOG_FILE)"
  KAFKA_HEAP="${PR_KAFKA_HEAP:--Xms256m -Xmx1g}"
  # shellcheck disable=SC2086
  nohup java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
    -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" >>"$LOG_FILE" 2>&1 &
  echo $! > "$PID_FILE"
  local waited=0
  until grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null && port_open; do
    if ! running; then log "broker exited during start; last lines of $LOG_FILE:"; tail -20 "$LOG_FILE" >&2; exit 1; fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then log "broker not ready after ${START_TIMEOUT}s"; exit 1; fi
    sleep 1; waited=$((waited + 1))
  done
  log "ready after ${waited}s"
}

stop() {
  if ! running; then rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping broker (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() { running && port_open; }

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
