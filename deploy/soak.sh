#!/usr/bin/env bash
# `make soak`: 30 minutes at 200 events/s through ingest, scoring and review on a private Kafka
# and Redis, then the soak section of docs/reliability.md and a JSON report. Never touches
# `make up`'s, `make test`'s or `make chaos`'s broker and Redis: it uses PR_SOAK_KAFKA_PORT
# (28692), PR_SOAK_KAFKA_CONTROLLER_PORT (28693), PR_SOAK_REDIS_PORT (28679) and
# PR_SOAK_STATE_DIR (.run/soak), which it wipes. Arguments go to the script (--minutes 2 ...).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
"$HERE/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m tests.chaos.soak "$@"
