#!/usr/bin/env bash
# Create the project's virtualenv (.venv) and install the project with its test and dev (lint) extras.
# Re-running is cheap: it reinstalls only when pyproject.toml changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PR_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

log() { echo "[setup] $*" >&2; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { log "Python 3.11 or newer is needed (found $("$PYTHON" --version 2>&1))"; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$ROOT/plugins/close-source/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  log "installing pipeline-review and its test and lint dependencies"
  LOG="$VENV/pip-install.log"
  {
    "$VENV/bin/python" -m pip install --upgrade pip &&
      "$VENV/bin/python" -m pip install -e "$ROOT[test,dev]" &&
      # The example source plug-in installs from its own package, as a third party's would.
      "$VENV/bin/python" -m pip install -e "$ROOT/plugins/close-source"
  } >"$LOG" 2>&1 || { log "pip install failed; last lines of $LOG:"; tail -30 "$LOG" >&2; exit 1; }
  rm -f "$VENV"/.installed-* && touch "$STAMP"
fi

# The dashboard's chart library (the quarter's waterfall), from the npm registry, served by
# review under /static/vendor/: no CDN, nothing vendored into git. Without npm the page still
# works and says the chart is unavailable.
CHARTJS_VERSION=4.5.1
VENDOR="$ROOT/services/review/static/vendor"
if [ ! -f "$VENDOR/chart-$CHARTJS_VERSION.umd.min.js" ]; then
  if command -v npm >/dev/null 2>&1; then
    log "fetching chart.js $CHARTJS_VERSION for the dashboard"
    TMP="$(mktemp -d)"
    if (cd "$TMP" && npm pack "chart.js@$CHARTJS_VERSION" --silent >/dev/null 2>&1 \
        && tar xzf "chart.js-$CHARTJS_VERSION.tgz" package/dist/chart.umd.min.js package/LICENSE.md); then
      mkdir -p "$VENDOR"
      cp "$TMP/package/dist/chart.umd.min.js" "$VENDOR/chart-$CHARTJS_VERSION.umd.min.js"
      cp "$TMP/package/LICENSE.md" "$VENDOR/chart.js-LICENSE.md"
      cp "$VENDOR/chart-$CHARTJS_VERSION.umd.min.js" "$VENDOR/chart.umd.min.js"
    else
      log "could not fetch chart.js from npm: the dashboard's waterfall stays empty"
    fi
    rm -rf "$TMP"
  else
    log "npm not found: the dashboard's waterfall stays empty (install Node.js and re-run)"
  fi
fi
