#!/usr/bin/env bash
# `make client`: generate the typed Python client of the review API (clients/review-client) from
# review's own OpenAPI document with openapi-python-client, a maintained generator.
#
#   deploy/client.sh            regenerate clients/review-client in place
#   deploy/client.sh OUT_DIR    generate into OUT_DIR instead (the staleness test diffs the two)
#   deploy/client.sh --tool     only install the generator, print its path
#
# The generator lives in its own virtualenv in the cache, pinned: it pins typer below the range
# pipeline-review uses, so it cannot share .venv (docs/decisions.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=0.29.1
TOOL_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-review/openapi-python-client-$VERSION"
PYTHON="${PYTHON:-python3}"
log() { echo "[client] $*" >&2; }

if [ ! -x "$TOOL_VENV/bin/openapi-python-client" ]; then
  log "installing openapi-python-client $VERSION into $TOOL_VENV"
  rm -rf "$TOOL_VENV"
  "$PYTHON" -m venv "$TOOL_VENV"
  "$TOOL_VENV/bin/python" -m pip install -q "openapi-python-client==$VERSION" >&2
fi
if [ "${1:-}" = "--tool" ]; then
  echo "$TOOL_VENV/bin/openapi-python-client"
  exit 0
fi

OUT="${1:-$ROOT/clients/review-client}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# The document as the app serves it at /openapi.json, without starting the service.
"$ROOT/.venv/bin/python" - "$WORK/review.json" <<'PY'
import json, sys
from services.review.app import create_app
from services.review.settings import ReviewSettings
document = create_app(ReviewSettings(alert_feed_enabled=False)).openapi()
with open(sys.argv[1], "w") as out:
    json.dump(document, out, indent=2, sort_keys=True)
PY
# ruff (the generator's post-hook formatter) comes with the generator, in its venv.
RUFF_NO_CACHE=true PATH="$TOOL_VENV/bin:$PATH" "$TOOL_VENV/bin/openapi-python-client" generate --path "$WORK/review.json" \
  --config "$ROOT/clients/review-client.yaml" --output-path "$WORK/out" --overwrite >"$WORK/log" 2>&1 \
  || { cat "$WORK/log" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
rm -rf "$WORK/out/.ruff_cache"
cp -r "$WORK/out" "$OUT"
log "generated $OUT"
