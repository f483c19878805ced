"""Console entry point: ``pr-scoring`` runs one faust worker."""

from __future__ import annotations

import faust

from .app import create_app
from .settings import ScoringSettings


def run() -> None:
    """Start a scoring worker with settings from the environment."""
    settings = ScoringSettings()
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.upper())
    worker.execute_from_commandline()


if __name__ == "__main__":
    run()
