"""pr-admin create-topics against the real broker: the dead-letter topic's retention."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient

from services.admin.topics import ensure_topics, topic_config
from services.shared.topics import DAY_MS

pytestmark = pytest.mark.integration


def _retention(settings, topic: str) -> str | None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="pr-test")
    try:
        return topic_config(admin, topic, ["retention.ms"])["retention.ms"]
    finally:
        admin.close()


def test_dead_letter_topic_is_created_with_the_configured_retention(common_settings):
    # The fixture ran ensure_topics with the defaults.
    assert _retention(common_settings, common_settings.dead_letter_topic) == str(30 * DAY_MS)
    assert _retention(common_settings, common_settings.deal_events_topic) == "-1"
    assert _retention(common_settings, common_settings.deal_alerts_topic) == "-1"


def test_changing_the_setting_alters_the_existing_dead_letter_topic_only(common_settings):
    shorter = common_settings.model_copy(update={"dead_letter_retention_days": 7})
    assert ensure_topics(shorter) == []  # nothing created: every topic exists
    assert _retention(common_settings, common_settings.dead_letter_topic) == str(7 * DAY_MS)
    assert _retention(common_settings, common_settings.deal_events_topic) == "-1"

    forever = common_settings.model_copy(update={"dead_letter_retention_days": 0})
    ensure_topics(forever)
    assert _retention(common_settings, common_settings.dead_letter_topic) == "-1"
