"""Bulk writes to the deal table (the local store plus one record batch per changelog
partition), together with the batch's alerts.

``table[key] = value`` makes faust queue one changelog message per key through its producer
buffer, a path that cost about 400 µs of CPU per record in profiles (half of the worker) and
throttles the consumer whenever more than 100 records wait. A batch of events touches
hundreds of deals, so here the batch's new states go into the table's store directly and
onto the changelog as one aiokafka record batch per partition.

The records are the ones faust would have written (same topic, raw key, raw value, the
partition of the key), so faust's own changelog recovery reads them back unchanged. With
exactly-once on, each partition's batch goes through the transactional producer that faust
opened for that partition, under faust's lock for it, so the records commit atomically with
the consumed offsets, as ``table[key] = value`` would.

The alerts go the same way: each alert through the transaction of its deal's partition, in
the same locked step as the deal's new state. So a commit holds a deal's state and the
alerts it raised, or neither: a crash cannot leave a state that has "seen" a request without
its alert (the alert would be lost, since the replay dedups the request) or an alert without
the state (it would be raised twice). faust's own ``topic.send`` would send them outside any
transaction, because the alerts topic is not one the worker consumes. With exactly-once off,
the alerts are sent and acknowledged before the states, so a crash repeats an alert rather
than losing it.

This leans on two private attributes of faust-streaming's aiokafka producer
(``_transaction_producers`` and ``_trn_locks``); the version range in pyproject.toml is the
one the crash-recovery and exactly-once tests run against.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from services.shared.alerts import Alert


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partition of a keyed record (what ingest's producer picks for the event)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class BulkChangelog:
    """Saves many table values and their alerts at once; ``write`` returns when Kafka has acknowledged them."""

    def __init__(self, app: faust.App, table: faust.Table, partitions: int, alerts_topic: str,
                 encode_alert: Callable[[Alert], bytes]):
        self.app = app
        self.table = table
        self.partitions = partitions
        self.alerts_topic = alerts_topic
        self.encode_alert = encode_alert
        # Trace context headers of an alert record; set by the worker only while tracing is on.
        self.alert_headers: Callable[[Any], list[tuple[str, bytes]] | None] | None = None

    @property
    def topic(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    async def write(self, updates: Mapping[bytes, bytes], alerts: Sequence[Alert] = ()) -> None:
        """Store ``updates`` (key -> value) locally and on the changelog, and send ``alerts``,
        each partition's share in one step of that partition's transaction."""
        states: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        alert_records: dict[int, list[tuple[bytes, bytes, list | None]]] = defaultdict(list)
        store = self.table.data
        for key, value in updates.items():
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
            await self._send_all({}, alert_records)
            alert_records = {}
        await self._send_all(states, alert_records)

    async def _send_all(self, states: Mapping[int, list[tuple[bytes, bytes]]],
                        alerts: Mapping[int, list[tuple[bytes, bytes, list | None]]]) -> None:
        acks = []
        for partition in sorted(states.keys() | alerts.keys()):
            acks.extend(await self._send(partition, states.get(partition, []), alerts.get(partition, [])))
        await asyncio.gather(*acks)

    async def _send(self, partition: int, states: list[tuple[bytes, bytes]],
                    alerts: list[tuple[bytes, bytes, list | None]]) -> list[asyncio.Future]:
        producer, lock = self._producer_for(partition)
        # With transactions, faust holds this lock while committing or aborting the partition's
        # transaction; without them there is nothing to hold.
        async with lock or contextlib.nullcontext():
            acks = await self._send_batches(producer, partition, states) if states else []
            for key, value, headers in alerts:  # few per batch; the producer picks the alerts topic's partition
                acks.append(await producer.send(self.alerts_topic, value, key=key, headers=headers))
            return acks

    async def _send_batches(self, producer, partition: int, records: list[tuple[bytes, bytes]]) -> list[asyncio.Future]:
        acks = []
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
                acks.append(await producer.send_batch(batch, self.topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        acks.append(await producer.send_batch(batch, self.topic, partition=partition))
        return acks

    def _producer_for(self, partition: int):
        """The aiokafka producer (and faust's lock for it) that must carry this partition's records."""
        faust_producer = self.app.producer
        if not self.app.in_transaction:
            return faust_producer._ensure_producer(), None  # noqa: SLF001
        group = self.app.assignor.group_for_topic(self.topic)
        transactional_id = f"{self.app.conf.id}-{group}-{partition}"  # as faust's TransactionManager names it
        producer = faust_producer._transaction_producers.get(transactional_id)  # noqa: SLF001
        if producer is None:
            raise RuntimeError(f"no transactional producer {transactional_id!r}: is partition {partition} assigned here?")
        return producer, faust_producer._trn_locks[transactional_id]  # noqa: SLF001
