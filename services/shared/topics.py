"""Kafka topic names and their layout; the project creates them itself."""

from __future__ import annotations

from dataclasses import dataclass

DEAL_EVENTS = "deal-events"
DEAL_ALERTS = "deal-alerts"
DEAD_LETTER = "deal-events-dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    # Config that follows a setting: re-applied to the topic when it exists already.
    kept_in_sync: bool = False
    replication_factor: int = 1


DAY_MS = 24 * 60 * 60 * 1000


def retention_ms(days: float) -> str:
    """Kafka's ``retention.ms`` for a number of days (0 or less: keep forever, ``-1``)."""
    return str(round(days * DAY_MS)) if days > 0 else "-1"


def topic_specs(
    prefix: str = "",
    deal_event_partitions: int = 6,
    dead_letter_retention_days: float = 30,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> list[TopicSpec]:
    """The topics every environment needs, with an optional name prefix for isolation.

    deal-events and deal-alerts are kept forever (the read model is rebuilt from them); the
    dead-letter topic only has to outlive the time someone needs to look at what it holds.
    Every topic gets ``replication_factor`` replicas, and ``min_insync_replicas`` of them
    must have a write before an acks=all producer is told it is stored.
    """
    durability = {"min.insync.replicas": str(min_insync_replicas)}
    keep_forever = {"retention.ms": "-1"} | durability
    dead_letter = {"retention.ms": retention_ms(dead_letter_retention_days)} | durability
    return [
        TopicSpec(prefix + DEAL_EVENTS, deal_event_partitions, keep_forever, replication_factor=replication_factor),
        TopicSpec(prefix + DEAL_ALERTS, 3, keep_forever, replication_factor=replication_factor),
        TopicSpec(prefix + DEAD_LETTER, 1, dead_letter, kept_in_sync=True, replication_factor=replication_factor),
    ]
