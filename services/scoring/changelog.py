"""Bulk writes to the deal table (the local store plus one record batch per changelog
partition), together with the batch's alerts.

``table[key] = value`` would queue one changelog message per key through faust's producer
buffer (about 400 µs of CPU per record in profiles). Here a batch's new states go into the
table's store directly and onto the changelog as one aiokafka record batch per partition:
the records faust would have written, so its recovery reads them back unchanged. With
exactly-once on, each partition's states and the alerts they raised go through that
partition's transaction (one locked step), so a commit holds both or neither; without it,
alerts are acknowledged before the states, so a crash repeats an alert rather than losing it.
Why, and what it cost: docs/decisions.md ("Partitioning and the faust table", "Alerts travel
in the transactions"). The producer lookup is in faust_compat.py.

A partition whose transactional producer was fenced mid-batch (a rebalance gave the partition
to another worker, whose producer fenced this one) is dropped from the batch when
faust_compat.FencedTransactions says it moved: ``write`` returns the dropped partitions, and
their deals must not be written to Redis by this batch. docs/reliability.md says why it is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import faust
from aiokafka.partitioner import murmur2

from services.shared.alerts import Alert

from .faust_compat import FENCED_ERRORS, producer_for, transactional_id_for

if TYPE_CHECKING:
    from .committed_store import CommittedStore
    from .faust_compat import FencedTransactions


# aiokafka's murmur2 is pure Python (about 3.5 µs for a deal id), and a batch asks it about each
# of its deals three or four times: reading the state, the changelog, the stall index, the alerts.
# A few thousand recent keys cover one batch's deals (about 1 MB).
@functools.lru_cache(maxsize=4096)
def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partition of a keyed record (what ingest's producer picks for the event)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class BulkChangelog:
    """Saves many table values and their alerts at once; ``write`` returns when Kafka has acknowledged them."""

    def __init__(
        self,
        app: faust.App,
        table: faust.Table,
        partitions: int,
        alerts_topic: str,
        encode_alert: Callable[[Alert], bytes],
        committed: CommittedStore | None = None,
        fenced: FencedTransactions | None = None,
    ):
        """With ``committed`` (the RocksDB store), states are staged there until their transaction
        commits instead of going into the table's store at once. ``fenced`` decides whether a
        fenced partition is dropped from the batch (without it, the error is raised)."""
        self.app = app
        self.fenced = fenced
        self.committed = committed
        self.table = table
        self.partitions = partitions
        self.alerts_topic = alerts_topic
        self.encode_alert = encode_alert
        # Trace context headers of an alert record; set by the worker only while tracing is on.
        self.alert_headers: Callable[[Any], list[tuple[str, bytes]] | None] | None = None

    @property
    def topic(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    async def write(self, updates: Mapping[bytes, bytes], alerts: Sequence[Alert] = ()) -> set[int]:
        """Store ``updates`` (key -> value) locally and on the changelog, and send ``alerts``,
        each partition's share in one step of that partition's transaction. Returns the
        partitions dropped because their producer was fenced after they moved (usually none)."""
        states: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        alert_records: dict[int, list[tuple[bytes, bytes, list | None]]] = defaultdict(list)
        store = self.table.data
        for key, value in updates.items():
            if self.committed is None:
                store[key] = value  # the store itself: no per-key changelog message
            states[partition_for(key, self.partitions)].append((key, value))
        for alert in alerts:
            key = alert.deal_id.encode()  # the deal's partition: the transaction holding its state
            headers = self.alert_headers(alert) if self.alert_headers is not None else None
            alert_records[partition_for(key, self.partitions)].append((key, self.encode_alert(alert), headers))
        if not self.app.in_transaction and alert_records:
            # Without transactions nothing ties an alert to its deal's state, so the alerts must
            # be on Kafka before any state that has "seen" their requests: a crash in between
            # then repeats an alert (same alert_id) instead of losing it.
            await self._send_all({}, alert_records)  # one producer, no transaction: nothing to drop
            alert_records = {}
        return await self._send_all(states, alert_records)

    async def _send_all(
        self,
        states: Mapping[int, list[tuple[bytes, bytes]]],
        alerts: Mapping[int, list[tuple[bytes, bytes, list | None]]],
    ) -> set[int]:
        sent: dict[int, tuple[Any, list[asyncio.Future]]] = {}
        dropped: set[int] = set()
        for partition in sorted(states.keys() | alerts.keys()):
            producer = None
            try:
                producer, lock = self._producer_for(partition)
                sent[partition] = (
                    producer,
                    await self._send(producer, lock, partition, states.get(partition, []), alerts.get(partition, [])),
                )
            except FENCED_ERRORS as exc:
                if not await self._dropped(partition, producer, exc, "while sending"):
                    raise
                dropped.add(partition)
        settled = await asyncio.gather(
            *(self._acknowledged(partition, producer, acks) for partition, (producer, acks) in sent.items())
        )
        dropped.update(partition for partition in settled if partition is not None)
        if self.committed is not None and not self.app.in_transaction:
            for partition, records in states.items():  # acknowledged, and no transaction to wait for
                self.committed.write_through(partition, dict(records))
        return dropped

    async def _acknowledged(self, partition: int, producer: Any, acks: list[asyncio.Future]) -> int | None:
        """Wait for Kafka to acknowledge one partition's records; the partition if it was dropped instead."""
        try:
            # Every ack is waited for: a fenced producer fails them all, none is left unretrieved.
            results = await asyncio.gather(*acks, return_exceptions=True)
            errors = [result for result in results if isinstance(result, BaseException)]
            if errors:
                raise errors[0]
        except FENCED_ERRORS as exc:
            if not await self._dropped(partition, producer, exc, "while its records were acknowledged"):
                raise
            return partition
        return None

    async def _dropped(self, partition: int, producer: Any, exc: BaseException, where: str) -> bool:
        if self.fenced is None or not self.app.in_transaction:
            return False  # no transaction to abort: the records may be on Kafka, so the crash is the safe path
        return await self.fenced.dropped(transactional_id_for(self.app, self.topic, partition), producer, exc, where)

    async def _send(
        self,
        producer: Any,
        lock: asyncio.Lock | None,
        partition: int,
        states: list[tuple[bytes, bytes]],
        alerts: list[tuple[bytes, bytes, list | None]],
    ) -> list[asyncio.Future]:
        # With transactions, faust holds this lock while committing or aborting the partition's
        # transaction; without them there is nothing to hold.
        async with lock or contextlib.nullcontext():
            if self.committed is not None and self.app.in_transaction and states:
                # Staged in the locked step that sends them, so a commit takes exactly these.
                self.committed.stage(partition, dict(states))
            acks = []
            for batch, count in self._record_batches(producer, states):
                acks.append(
                    self._track(await producer.send_batch(batch, self.topic, partition=partition), partition, count)
                )
            if alerts:
                acks.extend(await self._send_alerts(producer, alerts))
            return acks

    async def _send_alerts(self, producer, alerts: list[tuple[bytes, bytes, list | None]]) -> list[asyncio.Future]:
        """The alerts as one record batch per partition of the alerts topic, the partition the
        producer's default partitioner would pick for the key. In the bench's workload a batch of 500
        events raises about 390 alerts, and ``producer.send`` per alert cost about 2.5 % of the
        worker's CPU (docs/benchmarks.md, step 4)."""
        partitions = sorted(await producer.partitions_for(self.alerts_topic))
        by_partition: dict[int, list[tuple[bytes, bytes, list | None]]] = defaultdict(list)
        for record in alerts:
            by_partition[partitions[partition_for(record[0], len(partitions))]].append(record)
        acks = []
        for partition, records in by_partition.items():
            for batch, _count in self._record_batches(producer, records):
                acks.append(await producer.send_batch(batch, self.alerts_topic, partition=partition))
        return acks

    @staticmethod
    def _record_batches(producer, records: Sequence[tuple]) -> list[tuple[Any, int]]:
        """``records`` ((key, value) or (key, value, headers)) in as few record batches as fit, each with its count."""
        batches: list[tuple[Any, int]] = []
        if not records:
            return batches
        batch, count = producer.create_batch(), 0
        for key, value, *headers in records:
            extra = {"headers": headers[0]} if headers and headers[0] else {}
            if batch.append(key=key, value=value, timestamp=None, **extra) is None:  # full: start another
                batches.append((batch, count))
                batch, count = producer.create_batch(), 0
                batch.append(key=key, value=value, timestamp=None, **extra)
            count += 1
        batches.append((batch, count))
        return batches

    def _track(self, ack: asyncio.Future, partition: int, count: int) -> asyncio.Future:
        """Tell the committed store the changelog offset a record batch reached, once Kafka acknowledged it."""
        committed = self.committed
        if committed is not None:

            def acknowledged(done: asyncio.Future) -> None:
                if not done.cancelled() and done.exception() is None:
                    committed.acknowledged(partition, done.result().offset + count - 1)

            ack.add_done_callback(acknowledged)
        return ack

    def _producer_for(self, partition: int):
        """The aiokafka producer (and faust's lock for it) that must carry this partition's records."""
        return producer_for(self.app, self.topic, partition)
