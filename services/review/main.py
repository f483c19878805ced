"""Console entry point: ``pr-review`` serves the review API with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from pipeline_review.shared.auth import OpenModeRefused, decide_open_mode

from .app import create_app
from .settings import ReviewSettings

log = logging.getLogger("pipeline_review.review")


def run() -> None:
    """Serve review with settings from the environment; exit 2 when it must not start open."""
    settings = ReviewSettings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        decide_open_mode(service="review", host=settings.host,
                         credentials_configured=bool(settings.api_keys or settings.api_keys_file),
                         keys_variable="PR_REVIEW_API_KEYS", allow_open=settings.common.allow_open, log=log)
    except OpenModeRefused as exc:
        print(f"pr-review: {exc}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    run()
