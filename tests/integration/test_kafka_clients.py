"""The chosen Kafka version speaks to both client stacks the services use."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.integration


def test_kafka_python_round_trip_with_acks_all(common_settings):
    topic = common_settings.deal_events_topic
    producer = KafkaProducer(bootstrap_servers=common_settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    sent = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode()).get(timeout=30) for i in range(20)]
    producer.close()
    assert all(md.offset >= 0 for md in sent)
    # Same key -> same partition, the ordering guarantee deals rely on.
    again = KafkaProducer(bootstrap_servers=common_settings.kafka_bootstrap)
    assert again.send(topic, key=b"k3", value=b"x").get(timeout=30).partition == sent[3].partition
    again.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=common_settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        group_id=f"g-{uuid.uuid4().hex[:6]}",
    )
    values = {m.value for m in consumer}
    consumer.close()
    assert {f"v{i}".encode() for i in range(20)} <= values


async def test_aiokafka_transactions_and_read_committed(common_settings):
    """faust's client, aiokafka, gets a producer id and commits a transaction."""
    topic = common_settings.deal_alerts_topic
    producer = AIOKafkaProducer(
        bootstrap_servers=common_settings.kafka_bootstrap, transactional_id=f"tx-{uuid.uuid4().hex[:6]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed", key=b"k")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted", key=b"k")
        await producer.abort_transaction()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=common_settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        group_id=f"g-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        values = [m.value for msgs in batches.values() for m in msgs]
    finally:
        await consumer.stop()
    assert values == [b"committed"]


def test_faust_worker_consumes_kafka_python_events_and_keeps_a_changelog(common_settings, tmp_path):
    """The real scoring worker (faust) folds events produced by kafka-python (ingest's client)."""
    import redis

    from services.shared.events import encode_event
    from testkit.processes import Service, free_port, scoring_env
    from tests.conftest import settings_env
    from tests.helpers import event, wait_until

    port = free_port()
    app_id = f"pr-scoring-{uuid.uuid4().hex[:6]}"
    worker = Service(
        "scoring",
        settings_env(common_settings) | scoring_env(app_id, port, tmp_path),
        f"http://127.0.0.1:{port}/readyz",
        tmp_path,
    ).start()
    try:
        producer = KafkaProducer(bootstrap_servers=common_settings.kafka_bootstrap, acks="all")
        ev = event(deal_id="api:faust-1", type="deal.created", stage="Prospecting", amount=1000, name="F")
        producer.send(common_settings.deal_events_topic, key=ev.deal_id.encode(), value=encode_event(ev)).get(30)
        producer.close()
        r = redis.Redis.from_url(common_settings.redis_url.get_secret_value())
        card = wait_until(lambda: r.get(common_settings.keys.deal("api:faust-1")), what="the deal card in Redis")
        assert json.loads(card)["name"] == "F"
        # The table's changelog topic holds the deal state: the restart-recovery source.
        consumer = KafkaConsumer(
            f"{app_id}-deals-changelog",
            bootstrap_servers=common_settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
        )
        keys = [m.key for m in consumer]
        consumer.close()
        assert b"api:faust-1" in keys
    finally:
        worker.stop()
        assert worker.process.returncode is not None, worker.tail()
