"""The topics' layout: what is kept forever and what the dead-letter retention becomes."""

import pytest

from services.shared.settings import CommonSettings
from services.shared.topics import DAY_MS, retention_ms, topic_specs

pytestmark = pytest.mark.unit


def test_retention_is_in_milliseconds_and_zero_days_means_forever():
    assert retention_ms(30) == str(30 * DAY_MS) == "2592000000"
    assert retention_ms(0.5) == str(DAY_MS // 2)
    assert retention_ms(0) == "-1"


def test_only_the_dead_letter_topic_follows_its_setting():
    specs = {spec.name: spec for spec in topic_specs("p-", 4, dead_letter_retention_days=7)}
    assert specs["p-deal-events"].config["retention.ms"] == "-1"
    assert specs["p-deal-alerts"].config["retention.ms"] == "-1"
    assert specs["p-deal-events-dlq"].config["retention.ms"] == str(7 * DAY_MS)
    assert [name for name, spec in specs.items() if spec.kept_in_sync] == ["p-deal-events-dlq"]


def test_dead_letter_retention_defaults_to_30_days_and_refuses_negative_days(monkeypatch):
    assert CommonSettings().dead_letter_retention_days == 30
    monkeypatch.setenv("PR_DEAD_LETTER_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match="dead_letter_retention_days"):
        CommonSettings()


def test_one_broker_by_default_every_topic_one_replica_and_one_in_sync():
    settings = CommonSettings()
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas) == (1, 1)
    for spec in topic_specs():
        assert spec.replication_factor == 1
        assert spec.config["min.insync.replicas"] == "1"


def test_on_a_cluster_every_topic_gets_the_replicas_and_the_in_sync_minimum():
    specs = topic_specs("p-", 6, replication_factor=3, min_insync_replicas=2)
    assert {spec.name: (spec.replication_factor, spec.config["min.insync.replicas"]) for spec in specs} == {
        "p-deal-events": (3, "2"),
        "p-deal-alerts": (3, "2"),
        "p-deal-events-dlq": (3, "2"),
    }


def test_more_in_sync_replicas_than_replicas_is_refused_by_name(monkeypatch):
    # Kafka would create such a topic and then refuse every acks=all write to it.
    monkeypatch.setenv("PR_TOPIC_REPLICATION_FACTOR", "1")
    monkeypatch.setenv("PR_TOPIC_MIN_INSYNC_REPLICAS", "2")
    with pytest.raises(ValueError, match="PR_TOPIC_MIN_INSYNC_REPLICAS=2 is more than PR_TOPIC_REPLICATION_FACTOR=1"):
        CommonSettings()
