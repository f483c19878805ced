"""``pr-admin``: operational commands over all services (topics, read-model rebuild).

It lives outside the services and their contracts because it may import any of them.
"""

from __future__ import annotations

import typer

from services.scoring.rebuild import rebuild
from services.shared.settings import CommonSettings

from .topics import ensure_topics

cli = typer.Typer(help="Pipeline Review operations.", no_args_is_help=True)


@cli.command("create-topics")
def create_topics() -> None:
    """Create deal-events, deal-alerts and the dead-letter topic if they do not exist."""
    settings = CommonSettings()
    created = ensure_topics(settings)
    typer.echo(f"created: {', '.join(created) if created else 'none (all exist)'}")


@cli.command("rebuild-read-model")
def rebuild_read_model(
    wipe: bool = typer.Option(True, help="Delete the existing read-model keys first."),
) -> None:
    """Rebuild the Redis read model from the deal-events topic."""
    summary = rebuild(CommonSettings(), wipe=wipe)
    typer.echo(summary)


@cli.callback()
def main() -> None:
    """Pipeline Review operations."""
