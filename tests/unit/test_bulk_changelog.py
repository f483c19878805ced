"""BulkChangelog: which producer carries a batch's states and alerts, and in what order."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.partitioner import DefaultPartitioner

from services.scoring.changelog import BulkChangelog, partition_for
from services.shared.alerts import Alert

pytestmark = pytest.mark.unit

PARTITIONS = 6
CHANGELOG = "pr-scoring-deals-changelog"
ALERTS = "deal-alerts"


ALERT_PARTITIONS = 3  # not the deal-events count: the alerts topic's own partitions decide


class Batch(list):
    def append(self, key, value, timestamp, headers=()):  # aiokafka's BatchBuilder.append: None when full
        super().append((key, value, timestamp, headers))
        return True


class FakeProducer:
    """An aiokafka producer that logs what it is given and acknowledges on the next loop turn."""

    def __init__(self, name: str, log: list):
        self.name = name
        self.log = log
        self.alert_batches: list = []  # (partition of the alerts topic, [(key, value, timestamp, headers)])

    def create_batch(self):
        return Batch()

    async def partitions_for(self, topic):
        assert topic == ALERTS
        return set(range(ALERT_PARTITIONS))

    async def send_batch(self, batch, topic, partition):
        if topic == CHANGELOG:
            self.log.append((self.name, "states", topic, partition, [key for key, *_ in batch]))
            return self._ack(f"states {partition}")
        self.log.extend((self.name, "alert", topic, key) for key, *_ in batch)
        self.alert_batches.append((partition, list(batch)))
        return self._ack("alert " + ",".join(key.decode() for key, *_ in batch))

    def _ack(self, what: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()

        def done():
            self.log.append(("acked", what))
            future.set_result(SimpleNamespace(offset=100))  # aiokafka's RecordMetadata: the batch's base offset

        asyncio.get_running_loop().call_soon(done)
        return future


class WatchedLock(asyncio.Lock):
    """faust's transaction lock, telling when a caller starts waiting for it."""

    def __init__(self):
        super().__init__()
        self.waited = asyncio.Event()

    async def acquire(self):
        if self.locked():
            self.waited.set()
        return await super().acquire()


def fake_app(in_transaction: bool, log: list):
    plain = FakeProducer("plain", log)
    tids = {f"app-0-{p}": FakeProducer(f"trn-{p}", log) for p in range(PARTITIONS)}
    faust_producer = SimpleNamespace(
        _ensure_producer=lambda: plain, _transaction_producers=tids, _trn_locks={tid: WatchedLock() for tid in tids}
    )
    return SimpleNamespace(
        in_transaction=in_transaction,
        producer=faust_producer,
        conf=SimpleNamespace(id="app"),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
    )


def changelog(app) -> BulkChangelog:
    table = SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
    return BulkChangelog(app, table, PARTITIONS, ALERTS, encode_alert=lambda alert: alert.alert_id.encode())


def deal_in_partition(partition: int) -> str:
    return next(f"d{i}" for i in range(1000) if partition_for(f"d{i}".encode(), PARTITIONS) == partition)


async def test_with_transactions_a_deals_alert_goes_through_its_partitions_transaction():
    log: list = []
    bulk = changelog(fake_app(True, log))
    d1, d4 = deal_in_partition(1), deal_in_partition(4)
    await bulk.write(
        {d1.encode(): b"s1", d4.encode(): b"s4"}, [Alert(deal_id=d4, alert_id="al-4", kind="late_stage_discount")]
    )

    sent = [entry for entry in log if entry[0] != "acked"]
    assert ("trn-1", "states", CHANGELOG, 1, [d1.encode()]) in sent
    assert ("trn-4", "states", CHANGELOG, 4, [d4.encode()]) in sent
    assert ("trn-4", "alert", ALERTS, d4.encode()) in sent  # same transaction as the deal's state
    assert len(sent) == 3 and not any(entry[0] == "plain" for entry in sent)
    assert bulk.table.data == {d1.encode(): b"s1", d4.encode(): b"s4"}
    assert sum(entry[0] == "acked" for entry in log) == 3  # write returned after every ack


async def test_alerts_go_as_one_record_batch_per_alerts_partition_the_default_partitioner_picks():
    log: list = []
    app = fake_app(True, log)
    bulk = changelog(app)
    bulk.alert_headers = lambda alert: [("traceparent", alert.alert_id.encode())] if alert.alert_id == "al-b" else None
    d5 = deal_in_partition(5)
    others = [f"x{i}" for i in range(40) if partition_for(f"x{i}".encode(), PARTITIONS) == 5][:6]
    alerts = [Alert(deal_id=d5, alert_id="al-a", kind="late_stage_discount")]
    alerts += [Alert(deal_id=d5, alert_id="al-b", kind="stalled")]
    alerts += [Alert(deal_id=deal, alert_id=f"al-{deal}", kind="stalled") for deal in others]
    await bulk.write({d5.encode(): b"s"}, alerts)

    batches = app.producer._transaction_producers["app-0-5"].alert_batches
    expected: dict[int, list[str]] = {}
    for alert in alerts:  # what aiokafka's producer.send would have picked, key by key
        choice = DefaultPartitioner()(alert.deal_id.encode(), list(range(ALERT_PARTITIONS)), [])
        expected.setdefault(choice, []).append(alert.alert_id)
    assert {partition: [value.decode() for _, value, _, _ in records] for partition, records in batches} == expected
    assert len(batches) == len(expected)  # one batch each, the deal's alerts in the order raised
    headers = {value: headers for _, records in batches for _, value, _, headers in records}
    assert headers[b"al-b"] == [("traceparent", b"al-b")] and headers[b"al-a"] == ()


async def test_with_transactions_the_sends_wait_for_a_commit_holding_the_lock():
    log: list = []
    app = fake_app(True, log)
    bulk = changelog(app)
    d2 = deal_in_partition(2)
    lock = app.producer._trn_locks["app-0-2"]
    await lock.acquire()  # faust committing partition 2's transaction
    write = asyncio.ensure_future(
        bulk.write({d2.encode(): b"s"}, [Alert(deal_id=d2, alert_id="al-2", kind="late_stage_discount")])
    )
    await asyncio.wait_for(lock.waited.wait(), 5)  # the write reached the lock: an event, not a sleep
    assert log == []
    lock.release()
    await write
    assert [entry[1] for entry in log if entry[0] != "acked"] == ["states", "alert"]


async def test_without_transactions_alerts_are_acknowledged_before_any_state_is_sent():
    log: list = []
    bulk = changelog(fake_app(False, log))
    d0, d3 = deal_in_partition(0), deal_in_partition(3)
    await bulk.write(
        {d0.encode(): b"s0", d3.encode(): b"s3"}, [Alert(deal_id=d3, alert_id="al-3", kind="late_stage_discount")]
    )

    first_state = next(i for i, entry in enumerate(log) if entry[1] == "states")
    alert_acked = log.index(("acked", f"alert {d3}"))
    assert alert_acked < first_state
    assert {entry[0] for entry in log if entry[0] != "acked"} == {"plain"}


async def test_a_batch_without_changes_or_alerts_sends_nothing():
    log: list = []
    await changelog(fake_app(True, log)).write({}, [])
    assert log == []


class RecordingCommitted:
    def __init__(self):
        self.calls: list = []

    def stage(self, partition, states):
        self.calls.append(("stage", partition, dict(states)))

    def acknowledged(self, partition, offset):
        self.calls.append(("acked", partition, offset))

    def write_through(self, partition, states):
        self.calls.append(("write_through", partition, dict(states)))


async def test_with_a_committed_store_states_are_staged_in_their_transaction_not_written_to_the_table():
    log: list = []
    committed = RecordingCommitted()
    table = SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
    bulk = BulkChangelog(
        fake_app(True, log), table, PARTITIONS, ALERTS, encode_alert=lambda a: b"", committed=committed
    )
    d1 = deal_in_partition(1)
    await bulk.write({d1.encode(): b"s1"})
    assert table.data == {}
    assert committed.calls == [("stage", 1, {d1.encode(): b"s1"}), ("acked", 1, 100)]


async def test_with_a_committed_store_and_no_transactions_states_are_written_once_acknowledged():
    log: list = []
    committed = RecordingCommitted()
    table = SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
    bulk = BulkChangelog(
        fake_app(False, log), table, PARTITIONS, ALERTS, encode_alert=lambda a: b"", committed=committed
    )
    d2 = deal_in_partition(2)
    await bulk.write({d2.encode(): b"s2"})
    assert table.data == {}
    assert committed.calls == [("acked", 2, 100), ("write_through", 2, {d2.encode(): b"s2"})]
