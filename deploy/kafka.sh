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

write_config() {
  mkdir -p "$KAFKA_DIR/data" "$STATE_DIR/logs"
  cat > "$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
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
  fetch
  write_config
  local cp="$JAR_DIR/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "formatting KRaft storage in $KAFKA_DIR/data"
    java -cp "$cp" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" kafka.tools.StorageTool format \
      -t "pipeline-review-local-cluster" -c "$KAFKA_DIR/server.properties" >>"$LOG_FILE" 2>&1
  fi
  log "starting broker on $KAFKA_HOST:$KAFKA_PORT (log: $LOG_FILE)"
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
