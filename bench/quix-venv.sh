#!/usr/bin/env bash
# The virtualenv of bench/quix_fold.py (the quix-streams peer of the scoring worker), apart from
# .venv: quixstreams 3.28 pins pydantic<2.14 and pydantic-settings<2.16, the project >=2.14 and
# >=2.16, so the two cannot share one environment. This one has quixstreams with its own pins and
# the project's other runtime dependencies (faust-streaming too: services.scoring.read_model
# imports it through changelog.partition_for); the project's code itself comes from the work tree
# (quix_fold.py puts the repository on sys.path), so the fold always runs the checked-out code.
# Prints the venv's python. Re-running is cheap: it reinstalls only when this script or
# pyproject.toml changed. Never committed: it lives under ~/.cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PR_QUIX_VENV:-$HOME/.cache/pipeline-review/quix-venv}"
PYTHON="${PYTHON:-python3}"
QUIXSTREAMS_VERSION=3.28.1

log() { echo "[quix-venv] $*" >&2; }

STAMP="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || { log "creating virtualenv $VENV"; mkdir -p "$(dirname "$VENV")"; "$PYTHON" -m venv "$VENV"; }
  # The project's runtime dependencies less the two that quixstreams pins lower.
  mapfile -t DEPS < <("$PYTHON" - "$ROOT/pyproject.toml" <<'PY'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for dep in deps:
    if re.split(r"[\s<>=!~\[;]", dep, 1)[0].lower() not in ("pydantic", "pydantic-settings"):
        print(dep)
PY
)
  log "installing quixstreams $QUIXSTREAMS_VERSION and ${#DEPS[@]} project dependencies"
  LOG="$VENV/pip-install.log"
  { "$VENV/bin/python" -m pip install --upgrade pip &&
      "$VENV/bin/python" -m pip install "quixstreams==$QUIXSTREAMS_VERSION" "${DEPS[@]}"; } >"$LOG" 2>&1 \
    || { log "pip install failed; last lines of $LOG:"; tail -30 "$LOG" >&2; exit 1; }
  rm -f "$VENV"/.installed-* && touch "$STAMP"
fi
echo "$VENV/bin/python"
