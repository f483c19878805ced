"""The durable alert feed: deal-alerts (Kafka) -> a deduplicated Redis stream, and reads of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

from services.shared import tracing
from services.shared.keys import RedisKeys
from services.shared.redis_client import as_text, server_run_id

from .alerts import AlertFilter, BadAlert, decode_ack, decode_entry, feed_item, id_after, id_before, parse_alert

log = logging.getLogger("services.review.alert_feed")

# Append an alert once: the position hash and the stream change together or not at all, so
# a redelivered record (at-least-once Kafka, a rebalance, a second review instance) is a no-op.
APPEND_ONCE = """
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {existing, 0} end
local id = redis.call('XADD', KEYS[1], '*', 'alert', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], id)
return {id, 1}
"""

# Only the first acknowledgement counts; the answer is the stored one either way.
ACK_ONCE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return nil end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[2], ARGV[1])
"""

READ_BATCH = 200
CONSUMER_STOP_TIMEOUT = 5.0  # seconds a failed consumer gets to leave its group before it is dropped
# Seconds a new consumer gets to connect, join the group and receive its partitions. aiokafka's
# start() waits for the assignment without a bound; past this the attempt is dropped and retried.
CONSUMER_START_TIMEOUT = 60.0
MAX_SCAN_ROWS = 5000  # default bound on entries one page reads (PR_REVIEW_MAX_SCAN_ROWS)
TRIM_BATCH = 500
DAY_MS = 24 * 60 * 60 * 1000


def retention_cutoff_ms(now_ms: int, retention_days: float) -> int | None:
    """Entries added to the feed before this time (ms) are past retention; None keeps all."""
    if retention_days <= 0:
        return None
    return now_ms - round(retention_days * DAY_MS)


@dataclass(frozen=True)
class FeedPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


class AlertStore:
    """The alert feed in Redis: a stream (id = cursor), a dedup hash and an ack hash."""

    def __init__(self, redis, keys: RedisKeys):
        self.redis = redis
        self.keys = keys
        self._append = redis.register_script(APPEND_ONCE)
        self._ack = redis.register_script(ACK_ONCE)

    async def append(self, alert: dict[str, Any]) -> tuple[str, bool]:
        """Add an alert unless its alert_id is on the feed already; (stream id, added)."""
        stream_id, added = await self._append(
            keys=[self.keys.alerts_stream(), self.keys.alert_positions()],
            args=[alert["alert_id"], json.dumps(alert, separators=(",", ":"))],
        )
        return as_text(stream_id), bool(added)

    async def position(self, alert_id: str) -> str | None:
        """The stream id of an alert, or None when it is not on the feed."""
        raw = await self.redis.hget(self.keys.alert_positions(), alert_id)
        return as_text(raw) if raw is not None else None

    async def latest_id(self) -> str:
        """The newest stream id ("0-0" for an empty feed)."""
        rows = await self.redis.xrevrange(self.keys.alerts_stream(), count=1)
        return as_text(rows[0][0]) if rows else "0-0"

    async def get(self, alert_id: str) -> dict[str, Any] | None:
        """One feed item by alert id."""
        stream_id = await self.position(alert_id)
        if stream_id is None:
            return None
        rows = await self.redis.xrange(self.keys.alerts_stream(), stream_id, stream_id)
        if not rows:
            return None
        alert = decode_entry(rows[0][1])
        if alert is None:
            return None
        ack = await self.redis.hget(self.keys.alert_acks(), alert_id)
        decision = await self.redis.hget(self.keys.alert_decisions(), alert_id)
        return feed_item(alert, stream_id, decode_ack(ack), decode_ack(decision))

    async def decide(self, alert_id: str, decision: dict[str, Any]) -> None:
        """Record the latest discount decision on the alert (after Kafka acknowledged its event)."""
        await self.redis.hset(self.keys.alert_decisions(), alert_id, json.dumps(decision))

    async def ack(self, alert_id: str, by: str, at: dt.datetime) -> dict[str, Any] | None:
        """Record the first acknowledgement; returns the stored ack, None for an unknown alert."""
        raw = await self._ack(
            keys=[self.keys.alert_positions(), self.keys.alert_acks()],
            args=[alert_id, json.dumps({"by": by, "at": at.isoformat()})],
        )
        return decode_ack(raw)

    async def items(self, rows: list) -> list[dict[str, Any]]:
        """Feed items (with acks) from raw stream rows, skipping unreadable entries."""
        decoded = [(as_text(sid), decode_entry(fields)) for sid, fields in rows]
        readable = [(sid, alert) for sid, alert in decoded if alert is not None]
        if not readable:
            return []
        ids = [alert["alert_id"] for _, alert in readable]
        acks = await self.redis.hmget(self.keys.alert_acks(), ids)
        decisions = await self.redis.hmget(self.keys.alert_decisions(), ids)
        return [
            feed_item(alert, sid, decode_ack(ack), decode_ack(decision))
            for (sid, alert), ack, decision in zip(readable, acks, decisions)
        ]

    async def newest_first(
        self, flt: AlertFilter, limit: int, before: str | None, max_scan: int = MAX_SCAN_ROWS
    ) -> FeedPage:
        """A page of matching alerts, newest first, strictly older than ``before``.

        Reads at most ``max_scan`` entries (a filter may match few); a page cut short by that
        bound still has a ``next_cursor``, the last entry read, to continue from.
        """
        upper = id_before(before) if before else "+"
        return await self._scan(flt, limit, max_scan, upper, newest_first=True)

    async def oldest_first(self, flt: AlertFilter, limit: int, after: str, max_scan: int = MAX_SCAN_ROWS) -> FeedPage:
        """A page of matching alerts, oldest first, strictly newer than ``after`` (for pollers); bounded like
        :meth:`newest_first`."""
        return await self._scan(flt, limit, max_scan, id_after(after), newest_first=False)

    async def _scan(
        self, flt: AlertFilter, limit: int, max_scan: int, bound: str | None, newest_first: bool
    ) -> FeedPage:
        # Inclusive bounds computed in Python: Redis' exclusive "(" form fails on 0-0 and on the largest id.
        out: list[dict[str, Any]] = []
        scanned = 0
        stream = self.keys.alerts_stream()
        while bound is not None and scanned < max_scan:
            count = min(READ_BATCH, max_scan - scanned)
            rows = (
                await self.redis.xrevrange(stream, max=bound, min="-", count=count)
                if newest_first
                else await self.redis.xrange(stream, min=bound, max="+", count=count)
            )
            if not rows:
                return FeedPage(out, None)
            for item in await self.items(rows):
                if flt.matches(item):
                    if len(out) == limit:
                        return FeedPage(out, out[-1]["cursor"])
                    out.append(item)
            scanned += len(rows)
            last = as_text(rows[-1][0])
            if len(rows) < count:
                return FeedPage(out, None)
            bound = id_before(last) if newest_first else id_after(last)
            if scanned >= max_scan:
                # Bounded: hand back where reading stopped, matching or not.
                return FeedPage(out, last)
        return FeedPage(out, None)

    async def trim_before(self, cutoff_ms: int) -> int:
        """Remove the alerts added before ``cutoff_ms`` with their positions and acks; the count.

        Stream ids start with the time (ms) Redis added the entry, so XTRIM MINID drops by
        age. Each batch reads the old entries first, for the alert ids the two hashes are
        keyed by, then removes exactly those in one MULTI: no position outlives its entry.
        """
        stream, positions, acks = self.keys.alerts_stream(), self.keys.alert_positions(), self.keys.alert_acks()
        removed = 0
        while True:
            rows = await self.redis.xrange(stream, min="-", max=f"({cutoff_ms}-0", count=TRIM_BATCH)
            if not rows:
                return removed
            alert_ids = [
                alert["alert_id"]
                for alert in (decode_entry(fields) for _, fields in rows)
                if alert is not None and "alert_id" in alert
            ]
            async with self.redis.pipeline(transaction=True) as pipe:
                if alert_ids:
                    pipe.hdel(positions, *alert_ids)
                    pipe.hdel(acks, *alert_ids)
                    pipe.hdel(self.keys.alert_decisions(), *alert_ids)
                # New entries only ever get larger ids, so this removes the rows read and no other.
                pipe.xtrim(stream, minid=id_after(as_text(rows[-1][0])), approximate=False)
                removed += (await pipe.execute())[-1]
            if len(rows) < TRIM_BATCH:
                return removed


class AlertTrimmer:
    """Background task: trims the feed to PR_REVIEW_ALERT_RETENTION_DAYS, at start and then periodically.

    Time comes from Redis (TIME), the clock that stamped the stream ids. Every review
    instance may run one: trimming is idempotent.
    """

    def __init__(self, store: AlertStore, retention_days: float, interval: float):
        self.store = store
        self.retention_days = retention_days
        self.interval = interval
        self.trimmed = 0
        self._task: asyncio.Task | None = None

    async def trim_once(self) -> int:
        seconds, micros = await self.store.redis.time()
        cutoff = retention_cutoff_ms(int(seconds) * 1000 + int(micros) // 1000, self.retention_days)
        if cutoff is None:
            return 0
        removed = await self.store.trim_before(cutoff)
        self.trimmed += removed
        if removed:
            log.info("alert feed: trimmed %d alert(s) older than %g days", removed, self.retention_days)
        return removed

    def start(self) -> None:
        if self.retention_days > 0:
            self._task = asyncio.create_task(self._run(), name="alert-trimmer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.trim_once()
            except Exception as exc:  # noqa: BLE001 - Redis away: the next round trims what this one missed
                log.warning("alert feed trim failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.interval)


class AlertIngestor:
    """Background consumer: deal-alerts -> :class:`AlertStore`, committing only after Redis has it.

    Several review instances share the consumer group; the store's dedup makes a record
    that two of them see (during a rebalance) appear once.
    """

    def __init__(
        self,
        store: AlertStore,
        bootstrap: str,
        topic: str,
        group: str,
        retry_delay: float = 2.0,
        retention_days: float = 0,
        client_options: Mapping[str, Any] | None = None,
        start_timeout: float = CONSUMER_START_TIMEOUT,
    ):
        """``client_options``: security options from ``shared.kafka_config.kafka_client_options``."""
        self.store = store
        self.retention_days = retention_days
        self.bootstrap = bootstrap
        self.client_options = dict(client_options or {})
        self.topic = topic
        self.group = group
        self.retry_delay = retry_delay
        self.start_timeout = start_timeout
        self.state = "starting"
        self.error: str | None = None
        self.ever_started = False
        self.appended = 0
        self.duplicates = 0
        self.rejected = 0
        self.expired = 0
        self.rewinds = 0
        self.wipe_check_interval = 1.0  # seconds between checks of the feed's marks (one INFO, one HMGET)
        self.lag: dict[tuple[str, int], int] = {}  # (topic, partition) -> records not yet read, for pr_consumer_lag
        self._task: asyncio.Task | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="alert-ingestor")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand (stored and committed), leave the group, end."""
        if self._task is None:
            return
        self._stopping = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
        self.state = "stopped"

    def status(self) -> dict[str, Any]:
        consumer = self._consumer
        assigned = len(consumer.assignment()) if consumer is not None and self.state == "running" else 0
        return {
            "state": self.state,
            "group": self.group,
            "topic": self.topic,
            "assigned_partitions": assigned,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "expired": self.expired,
            "rewinds": self.rewinds,
            "error": self.error,
        }

    async def _run(self) -> None:
        while not self._stopping:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=self.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=10_000,
                heartbeat_interval_ms=1_000,
                # Scoring writes alerts inside Kafka transactions: an aborted one (a crashed
                # worker's) must not reach managers; its replay raises the alert again.
                isolation_level="read_committed",
                **self.client_options,
            )
            self._consumer = consumer
            # Partitions are checked as they are assigned, before any of their alerts is read.
            consumer.subscribe([self.topic], listener=_RewindWipedOnAssign(self, consumer))
            try:
                await _start_within(consumer, self.start_timeout)
                self.state, self.error, self.ever_started = "running", None, True
                log.info("alert feed consuming %s as group %s", self.topic, self.group)
                await self._consume(consumer)
            except Exception as exc:  # noqa: BLE001 - Kafka or Redis down: report, back off, retry
                self.state, self.error = "reconnecting", f"{type(exc).__name__}: {exc}"
                log.warning("alert feed failed (%s); retrying in %.0fs", self.error, self.retry_delay)
            finally:
                self.lag = {}
                await _stop_within(consumer, CONSUMER_STOP_TIMEOUT)
            if not self._stopping:
                await asyncio.sleep(self.retry_delay)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        checked = 0.0
        while not self._stopping:
            if time.monotonic() - checked >= self.wipe_check_interval:
                await self._rewind_wiped(consumer)
                checked = time.monotonic()
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            if batches:
                for records in batches.values():
                    for record in records:
                        await self._store(record)
                # Commit only what Redis already holds: a crash before this re-reads, and dedup absorbs it.
                await consumer.commit()
            await self._measure_lag(consumer)

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Per assigned partition: the last stable offset (read_committed's end) minus the position."""
        lag = {}
        for tp in consumer.assignment():
            end = consumer.last_stable_offset(tp)
            if end is None:  # nothing fetched from this partition yet
                continue
            lag[(tp.topic, tp.partition)] = max(end - await consumer.position(tp), 0)
        self.lag = lag

    async def _rewind_wiped(self, consumer: AIOKafkaConsumer, partitions=None) -> None:
        """Re-read from the start every assigned partition whose alerts this Redis may not hold.

        The committed offsets live in Kafka, the alerts in Redis: after a FLUSHALL, or a Redis
        that came back without its data, the offsets say "done" for alerts the feed lost. Each
        partition's mark is the run id of the Redis that stored its alerts; a missing or other
        one rewinds it. Dedup (the position hash) makes a needless rewind cost time, not copies.
        """
        assigned = sorted(consumer.assignment() if partitions is None else partitions)
        if not assigned:
            return
        redis = self.store.redis
        run_id = await server_run_id(redis, self.store.keys.alert_feed_synced())
        marks = await redis.hmget(self.store.keys.alert_feed_synced(), [str(tp.partition) for tp in assigned])
        lost = [tp for tp, mark in zip(assigned, marks) if mark is None or as_text(mark) != run_id]
        if not lost:
            return
        await consumer.seek_to_beginning(*lost)
        await redis.hset(self.store.keys.alert_feed_synced(), mapping={str(tp.partition): run_id for tp in lost})
        self.rewinds += 1
        # A first start has no marks either, hence info, not warning.
        log.info(
            "alert feed: this Redis (run id %s) has no mark for partition(s) %s (first start, restart or wipe); "
            "re-reading them from the start",
            run_id[:8],
            ", ".join(str(tp.partition) for tp in lost),
        )

    async def _store(self, record) -> None:
        if self._past_retention(record.timestamp):
            # A re-read of deal-alerts (lost group offsets) must not bring trimmed alerts back.
            self.expired += 1
            return
        try:
            alert = parse_alert(record.value)
        except BadAlert as problem:
            # Not ours to fix and must not block the partition: log it with its coordinates.
            self.rejected += 1
            log.error(
                "skipping unreadable alert at %s[%d]@%d: %s", record.topic, record.partition, record.offset, problem
            )
            return
        raised = alert.model_dump(exclude_unset=True)  # as raised, no added nulls
        if tracing.enabled():
            added = await self._store_traced(record, raised)
        else:
            _, added = await self.store.append(raised)
        if added:
            self.appended += 1
        else:
            self.duplicates += 1

    async def _store_traced(self, record, alert: dict[str, Any]) -> bool:
        """Append in a CONSUMER span, child of the record's trace context, and keep that span's
        traceparent with the alert so its deliveries (SSE, WebSocket, webhooks) join the trace."""
        with tracing.tracer().start_as_current_span(
            f"receive {record.topic}",
            context=tracing.context_from_headers(record.headers),
            kind=tracing.SpanKind.CONSUMER,
            attributes={
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "alert_id": alert["alert_id"],
            },
        ) as span:
            _, added = await self.store.append({**alert, tracing.TRACE_FIELD: tracing.traceparent()})
            span.set_attribute("appended", added)
            return added

    def _past_retention(self, record_ms: int | None) -> bool:
        """Whether a record was raised (its Kafka timestamp) longer ago than the feed keeps alerts."""
        if record_ms is None or record_ms < 0:
            return False
        cutoff = retention_cutoff_ms(int(time.time() * 1000), self.retention_days)
        return cutoff is not None and record_ms < cutoff


async def _start_within(consumer: AIOKafkaConsumer, timeout: float) -> None:
    """Start a consumer, raising ``TimeoutError`` when it has no assignment after ``timeout`` seconds.

    aiokafka's ``start()`` waits for the group's assignment for ever: a coordinator that is never
    found, or a group that never finishes rebalancing, would leave the feed silently idle.
    """
    starting = asyncio.ensure_future(consumer.start())
    done, _ = await asyncio.wait({starting}, timeout=timeout)
    if not done:
        starting.cancel()
        starting.add_done_callback(lambda task: task.cancelled() or task.exception())
        raise TimeoutError(f"the Kafka consumer had no assignment after {timeout:.0f}s")
    starting.result()


async def _stop_within(consumer: AIOKafkaConsumer, timeout: float) -> None:
    """Stop a consumer, giving up after ``timeout`` so that a new one can replace it.

    With the broker unreachable, aiokafka's ``stop()`` can wait for ever on a fetch that keeps
    retrying, and it does not end when cancelled either (so ``asyncio.wait_for`` would hang
    too): it is left to finish in the background, and the feed reconnects with a new consumer.
    """
    stopping = asyncio.ensure_future(consumer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=timeout)
    if not done:
        log.warning("alert feed: the old Kafka consumer did not stop within %.0fs; starting a new one", timeout)
        stopping.add_done_callback(lambda task: task.cancelled() or task.exception())
        return
    if not stopping.cancelled() and stopping.exception() is not None:
        log.debug("alert feed: stopping the old consumer failed: %s", stopping.exception())


class _RewindWipedOnAssign(ConsumerRebalanceListener):
    """Checks the feed's marks of newly assigned partitions before their first fetch."""

    def __init__(self, ingestor: AlertIngestor, consumer: AIOKafkaConsumer):
        self.ingestor = ingestor
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked) -> None:
        pass  # every batch is committed as soon as Redis has it: nothing to hand over

    async def on_partitions_assigned(self, assigned) -> None:
        try:
            await self.ingestor._rewind_wiped(self.consumer, assigned)  # noqa: SLF001 - its own ingestor
        except Exception as exc:  # noqa: BLE001 - Redis away: the consume loop checks again within wipe_check_interval
            log.warning(
                "alert feed: could not check the marks of partitions %s on assignment (%s: %s)",
                ", ".join(str(tp.partition) for tp in sorted(assigned)),
                type(exc).__name__,
                exc,
            )
