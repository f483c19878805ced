"""Topic administration: create the project's topics and keep their settings-driven configs in line."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError

from services.shared.kafka_config import kafka_client_options
from services.shared.settings import CommonSettings
from services.shared.topics import TopicSpec, topic_specs


def ensure_topics(settings: CommonSettings, timeout: float = 60.0) -> list[str]:
    """Create the project's topics when missing; return the names created.

    A topic that exists already gets its settings-driven config (the dead-letter retention)
    brought in line, so changing the setting and re-running this is enough. Replicas and
    min.insync.replicas (PR_TOPIC_REPLICATION_FACTOR, PR_TOPIC_MIN_INSYNC_REPLICAS) are set
    when a topic is created; an existing topic keeps its replicas.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap,
                client_id="pr-admin",
                bootstrap_timeout_ms=5000,
                **kafka_client_options(settings),
            )
            break
        except KafkaTimeoutError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    try:
        existing = set(admin.list_topics())
        specs = topic_specs(
            settings.topic_prefix,
            settings.deal_event_partitions,
            settings.dead_letter_retention_days,
            settings.topic_replication_factor,
            settings.topic_min_insync_replicas,
        )
        created = []
        for spec in specs:
            if spec.name in existing:
                continue
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=spec.config)]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                existing.add(spec.name)  # created meanwhile by another pr-admin: sync it below
        for spec in specs:
            if spec.kept_in_sync and spec.name in existing:
                sync_topic_config(admin, spec)
        return created
    finally:
        admin.close()


def topic_config(admin: KafkaAdminClient, topic: str, names: list[str], timeout: float = 15.0) -> dict[str, str]:
    """The current value of some configs of a topic, defaults included."""
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=dict.fromkeys(names))
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_configs([resource], config_filter="all")["topic"].get(topic, {})
        # Just after creation the broker may answer with no configs at all: not known yet.
        if all(name in described for name in names):
            return {name: described[name]["value"] for name in names}
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic}: the broker did not describe {sorted(set(names) - set(described))}")
        time.sleep(0.2)


def sync_topic_config(admin: KafkaAdminClient, spec: TopicSpec, timeout: float = 15.0) -> dict[str, str]:
    """Set the spec's configs the topic does not have yet (incrementally: nothing else changes).

    Returns once the broker describes the new values: the change reaches the broker through
    the metadata log a moment after the alter call is acknowledged.
    """
    current = topic_config(admin, spec.name, list(spec.config))
    changes = {name: value for name, value in spec.config.items() if current.get(name) != value}
    if not changes:
        return changes
    result = admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=changes)], incremental=True
    )
    outcome = result["topic"][spec.name]
    if outcome != "OK":
        raise RuntimeError(f"cannot set {changes} on topic {spec.name}: {outcome}")
    deadline = time.monotonic() + timeout
    while (current := topic_config(admin, spec.name, list(changes))) != changes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {spec.name}: set {changes}, but the broker still describes {current}")
        time.sleep(0.2)
    return changes
