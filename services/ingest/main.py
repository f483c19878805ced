"""Console entry point: ``pr-ingest`` serves the ingest API with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.shared.auth import KeyConfigError, OpenModeRefused

from .app import create_app
from .settings import IngestSettings


def run() -> None:
    """Serve ingest with settings from the environment; exit 2 when it must not start open."""
    settings = IngestSettings()
    # The open-mode warning is logged before uvicorn configures logging.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except (OpenModeRefused, KeyConfigError, ValueError) as exc:  # ValueError: a malformed PR_INGEST_RATE_LIMIT
        print(f"pr-ingest: {exc}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    run()
