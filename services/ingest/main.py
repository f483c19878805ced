"""Console entry point: ``pr-ingest`` serves the ingest API with uvicorn."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import IngestSettings


def run() -> None:
    """Serve ingest with settings from the environment."""
    settings = IngestSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    run()
