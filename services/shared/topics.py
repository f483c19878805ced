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


def topic_specs(prefix: str = "", deal_event_partitions: int = 6) -> list[TopicSpec]:
    """The topics every environment needs, with an optional name prefix for isolation."""
    keep_forever = {"retention.ms": "-1"}
    return [
        TopicSpec(prefix + DEAL_EVENTS, deal_event_partitions, keep_forever),
        TopicSpec(prefix + DEAL_ALERTS, 3, keep_forever),
        TopicSpec(prefix + DEAD_LETTER, 1, keep_forever),
    ]
