"""ingest's producer while Kafka is away: bounded waits, fast failures, bounded pending events."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.ingest.producer import EventProducer, KafkaUnavailable

pytestmark = pytest.mark.unit


class Silent:
    """A send future Kafka never settles (the broker is gone)."""

    def add_callback(self, _fn):
        return self

    def add_errback(self, _fn):
        return self


class Acking:
    def __init__(self):
        self.callbacks = []

    def add_callback(self, fn):
        fn(None)
        return self

    def add_errback(self, _fn):
        return self


class FakeKafka:
    def __init__(self):
        self.up = False
        self.sent = 0
        self.connects = 0
        self.closed = 0

    def close(self, _timeout=None):
        self.closed += 1

    def send(self, _topic, key, value):
        self.sent += 1
        return Acking() if self.up else Silent()


def producer_with(fake: FakeKafka, clock=time.monotonic, **options) -> EventProducer:
    producer = EventProducer("127.0.0.1:1", **{"timeout": 0.3, "fast_fail": 2.0, **options}, clock=clock)

    def connect():
        fake.connects += 1
        return fake

    producer._connect = connect  # the connection itself is kafka-python's business
    return producer


async def test_a_send_kafka_never_acknowledges_fails_within_the_timeout():
    producer = producer_with(FakeKafka())
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="did not acknowledge within"):
        await producer.send("t", [(b"k", b"v")])
    assert time.monotonic() - started < 0.3 + 0.2
    assert producer.pending == 0


async def test_after_a_failure_requests_fail_at_once_until_the_window_ends_then_reach_kafka_again():
    now = [1000.0]
    fake = FakeKafka()
    producer = producer_with(fake, clock=lambda: now[0])
    with pytest.raises(KafkaUnavailable):
        await producer.send("t", [(b"k", b"v")])
    sent_before = fake.sent
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="failed moments ago"):
        await producer.send("t", [(b"k", b"v")])
    assert time.monotonic() - started < 0.05
    assert fake.sent == sent_before  # nothing more was buffered for a broker known to be away
    fake.up = True
    now[0] += 2.1  # the fast-fail window has passed: the broker is tried, and it is back
    await producer.send("t", [(b"k", b"v"), (b"k2", b"v2")])
    assert fake.sent == sent_before + 2
    # The producer that failed was thrown away and a new one built for the broker that came back.
    assert fake.connects == 2
    for _ in range(50):
        if fake.closed:
            break
        await asyncio.sleep(0.01)
    assert fake.closed == 1


async def test_events_waiting_for_kafka_are_bounded():
    producer = producer_with(FakeKafka(), timeout=1.0, max_pending=4)
    waiting = asyncio.create_task(producer.send("t", [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]))
    await asyncio.sleep(0.05)
    assert producer.pending == 3
    with pytest.raises(KafkaUnavailable, match="3 events are already waiting for Kafka"):
        await producer.send("t", [(b"d", b"4"), (b"e", b"5")])
    with pytest.raises(KafkaUnavailable):
        await waiting
    assert producer.pending == 0


async def test_bytes_waiting_for_kafka_are_bounded():
    producer = producer_with(FakeKafka(), timeout=1.0, max_pending_bytes=100)
    waiting = asyncio.create_task(producer.send("t", [(b"a", b"x" * 60)]))
    await asyncio.sleep(0.05)
    with pytest.raises(KafkaUnavailable, match="61 bytes are already waiting for Kafka"):
        await producer.send("t", [(b"b", b"y" * 50)])
    with pytest.raises(KafkaUnavailable):
        await waiting
    assert producer.pending_bytes == 0


async def test_a_connection_that_takes_too_long_answers_within_the_timeout():
    producer = EventProducer("127.0.0.1:1", timeout=0.3)
    producer._connect = lambda: time.sleep(2)  # kafka-python blocking on its bootstrap timeout
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="no connection within"):
        await producer.send("t", [(b"k", b"v")])
    assert time.monotonic() - started < 0.5
