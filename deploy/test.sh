#!/usr/bin/env bash
# `make test`: install, start a throw-away Kafka and Redis on their own ports, run pytest.
# Exits with pytest's status; stops the test Kafka and Redis whatever happens.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PR_STATE_DIR="${PR_TEST_STATE_DIR:-$ROOT/.run/test}"
export PR_KAFKA_PORT="${PR_TEST_KAFKA_PORT:-29092}" PR_KAFKA_CONTROLLER_PORT="${PR_TEST_KAFKA_CONTROLLER_PORT:-29093}"
export PR_REDIS_PORT="${PR_TEST_REDIS_PORT:-26379}"
export PR_TEST_KAFKA_BOOTSTRAP="127.0.0.1:$PR_KAFKA_PORT"
export PR_TEST_REDIS_URL="redis://127.0.0.1:$PR_REDIS_PORT/0"
export PR_REDIS_CLUSTER_PORT="${PR_TEST_REDIS_CLUSTER_PORT:-16380}"
export PR_TEST_REDIS_CLUSTER_URL="redis://127.0.0.1:$PR_REDIS_CLUSTER_PORT/0"

# pytest processes (see the end of this script); checked before anything starts.
WORKERS="${PR_TEST_WORKERS:-2}"
case "$WORKERS" in
  '' | *[!0-9]* | 0) echo "[test] PR_TEST_WORKERS must be a whole number of at least 1 (got '$WORKERS')" >&2; exit 2 ;;
esac

"$HERE/setup.sh"
# The dashboard's browser test drives Debian's chromium; a browser is never downloaded.
if ! command -v chromium >/dev/null 2>&1; then
  echo "[test] installing Debian's chromium" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
# A fresh broker and Redis each run: tests never see an earlier run's data.
"$HERE/kafka.sh" stop >/dev/null 2>&1 || true
"$HERE/redis.sh" stop >/dev/null 2>&1 || true
"$HERE/redis-cluster.sh" stop >/dev/null 2>&1 || true
rm -rf "$PR_STATE_DIR"
trap '"$HERE/kafka.sh" stop; "$HERE/redis.sh" stop; "$HERE/redis-cluster.sh" stop' EXIT
"$HERE/kafka.sh" start
"$HERE/redis.sh" start
# Three masters, for the e2e test that runs the pipeline on a Redis Cluster (tests/e2e/test_redis_cluster.py).
"$HERE/redis-cluster.sh" start
# The network-fault chaos test puts toxiproxy between the services and Kafka and Redis: built once from
# the Go module proxy into the cache, started by the test itself on its own port.
"$HERE/toxiproxy.sh" build
# helm, kubeconform and promtool check the chart and the alerting rules (tests/deploy/): built once
# from the Go module proxy into the cache.
"$HERE/k8s-tools.sh" build

cd "$ROOT"
# Two pytest processes (pytest-xdist), a whole test file to each at a time: the slow tests spend
# most of their time waiting (a faust worker joining its group, recovering after a kill, a broker
# coming back), so two of them overlap well on two cores; one file stays in one process, so its
# module-scoped services start once. Tests are isolated by their topic and key prefixes, and those
# that kill Kafka or Redis start their own (docs/decisions.md).
PARALLEL=()
[ "$WORKERS" -gt 1 ] && PARALLEL=(-n "$WORKERS" --dist loadfile)
# The 25 slowest tests at the end of the log: where to look when the suite nears its 15-minute budget.
"$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider --durations=25 "${PARALLEL[@]}" "$@"
