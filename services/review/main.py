"""Console entry point: ``pr-review`` serves the review API with uvicorn."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import ReviewSettings


def run() -> None:
    """Serve review with settings from the environment."""
    settings = ReviewSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    run()
