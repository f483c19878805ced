"""Every CRM adapter end to end: vendor payload posted to ingest, deal visible on review."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.helpers import wait_until

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def post_fixture(stack, source: str, name: str) -> dict:
    body = (FIXTURES / source / name).read_bytes()
    answer = httpx.post(
        f"{stack['ingest']}/v1/sources/{source}", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


def card(stack, deal_id: str):
    answer = httpx.get(f"{stack['review']}/v1/deals/{deal_id}")
    return answer.json() if answer.status_code == 200 else None


@pytest.mark.parametrize(
    "source, fixture, deal_id, name",
    [
        ("salesforce", "opportunity_create.json", "salesforce:006SM0000001Tb3YAE", "Acme expansion"),
        ("hubspot", "batch_deals.json", "hubspot:1246965", "Initech platform"),
        ("pipedrive", "deal_create.json", "pipedrive:42", "Umbrella Corp pilot"),
        # The example plug-in, installed from its own package (plugins/close-source).
        ("close", "opportunity_created.json", "close:oppo_8XyQk2mZp4Lr0bV7nT1wCd", ""),
    ],
)
def test_vendor_payload_becomes_a_deal_on_review(stack, source, fixture, deal_id, name):
    accepted = post_fixture(stack, source, fixture)
    assert accepted["accepted"] >= 1
    # A HubSpot batch is one event per property: the card may show before its name does.
    shown = wait_until(
        lambda: (c := card(stack, deal_id)) and c.get("name") == name and c,
        timeout=15,
        what=f"{deal_id} named {name!r} on review",
    )
    assert shown["name"] == name
    assert shown["amount"] > 0
    assert shown["deal_id"] == deal_id


def test_unmappable_items_are_kept_on_the_dead_letter_topic(stack, stack_settings):
    # The module's other tests share the stack: read only what this post adds to the topic.
    consumer = KafkaConsumer(
        bootstrap_servers=stack_settings.kafka_bootstrap,
        consumer_timeout_ms=5000,
        enable_auto_commit=False,
        group_id=None,
    )
    topic = stack_settings.dead_letter_topic
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    for tp in partitions:
        consumer.seek(tp, ends[tp])
    accepted = post_fixture(stack, "hubspot", "batch_unmapped.json")
    assert accepted["dead_lettered"] >= 1
    assert all(accepted["dead_letter_reasons"])
    records = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert len(records) == accepted["dead_lettered"]
    assert {r["source"] for r in records} == {"hubspot"}
    assert all(r["reason"] and r["payload"] for r in records)


def test_malformed_vendor_payload_is_a_4xx_naming_the_field(stack):
    broken = [
        {
            "eventId": 1,
            "subscriptionType": "deal.propertyChange",
            "objectId": 5,
            "propertyName": "amount",
            "propertyValue": "12",
            "occurredAt": "yesterday",
        }
    ]
    answer = httpx.post(f"{stack['ingest']}/v1/sources/hubspot", json=broken)
    assert answer.status_code == 422
    assert "occurredAt" in answer.json()["detail"]
