"""``pr-admin``: operational commands shared by all services (topics, read-model rebuild)."""

from __future__ import annotations

import time

import typer
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError

from .kafka_config import kafka_client_options
from .settings import CommonSettings
from .topics import topic_specs

cli = typer.Typer(help="Pipeline Review operations.", no_args_is_help=True)


def ensure_topics(settings: CommonSettings, timeout: float = 60.0) -> list[str]:
    """Create the project's topics when missing; return the names created."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap, client_id="pr-admin", bootstrap_timeout_ms=5000,
                **kafka_client_options(settings),
            )
            break
        except KafkaTimeoutError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    try:
        existing = set(admin.list_topics())
        wanted = [s for s in topic_specs(settings.topic_prefix, settings.deal_event_partitions) if s.name not in existing]
        created = []
        for spec in wanted:
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


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
    from pipeline_review.scoring.rebuild import rebuild

    summary = rebuild(CommonSettings(), wipe=wipe)
    typer.echo(summary)


@cli.callback()
def main() -> None:
    """Pipeline Review operations."""
