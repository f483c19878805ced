"""Console entry point: ``pr-review`` serves the review API with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.shared.auth import KeyConfigError, OpenModeRefused, decide_open_mode

from .access import KEYS_VARIABLE, KeyTable
from .app import create_app
from .settings import ReviewSettings

log = logging.getLogger("services.review")


def run() -> None:
    """Serve review with settings from the environment; exit 2 when it must not start open."""
    settings = ReviewSettings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        # Decided on the keys actually loaded: a key file with no entries leaves review open,
        # so it must count as no keys here too.
        keys = KeyTable.from_settings(
            settings.api_keys.get_secret_value() if settings.api_keys else None, settings.api_keys_file
        )
        decide_open_mode(
            service="review",
            host=settings.host,
            credentials_configured=not keys.open,
            keys_variable=KEYS_VARIABLE,
            allow_open=settings.common.allow_open,
            log=log,
        )
    except (OpenModeRefused, KeyConfigError) as exc:
        print(f"pr-review: {exc}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    run()
