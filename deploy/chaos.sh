#!/usr/bin/env bash
# `make chaos`: the long fault scenarios against a private Kafka and Redis, then the table
# in docs/reliability.md. Never touches `make up`'s or `make test`'s broker and Redis: it uses
# PR_CHAOS_KAFKA_PORT (28092), PR_CHAOS_KAFKA_CONTROLLER_PORT (28093), PR_CHAOS_REDIS_PORT
# (28379) and PR_CHAOS_STATE_DIR (.run/chaos), which it wipes and kills at will. The network
# scenario adds a toxiproxy (deploy/toxiproxy.sh) on PR_CHAOS_TOXIPROXY_PORT (28474) with
# listeners on PR_CHAOS_KAFKA_PROXY_PORT (28500), PR_CHAOS_REDIS_PROXY_PORT (28501) and
# PR_CHAOS_CLIENT_PROXY_PORT (28502).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
"$HERE/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m tests.chaos.run "$@"
