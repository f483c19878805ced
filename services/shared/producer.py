"""The Kafka edge of ingest and review: a kafka-python producer that never blocks the event loop.

While the broker is away a request must neither hang nor be acknowledged: every request
has one deadline for the connection, the metadata wait and the acknowledgement together;
the events and bytes waiting for Kafka are bounded (``max_pending``, ``max_pending_bytes``:
kafka-python 3 has no ``buffer_memory`` of its own, its buffers grow with what is sent
until ``delivery_timeout_ms`` expires them); and once a send has timed out, requests are
answered at once for ``fast_fail`` seconds instead of each waiting out the timeout again.

A failed send also discards the kafka-python producer, and the next request after the
window builds a new one: after a broker was killed and restarted, the old idempotent
producer kept timing out (no acknowledgement ever came) while a new one worked at once.
A request whose records were still in the discarded producer is answered 503, never 2xx.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge in time (or cannot be reached)."""


class EventProducer:
    """Sends keyed records and resolves when Kafka has acknowledged all of them (acks=all)."""

    def __init__(
        self,
        bootstrap: str,
        timeout: float = 5.0,
        client_id: str = "pr-ingest",
        *,
        fast_fail: float = 2.0,
        max_pending: int = 20_000,
        max_pending_bytes: int = 64 * 1024 * 1024,
        clock=time.monotonic,
        client_options: Mapping[str, Any] | None = None,
    ):
        """``client_options``: security options from ``shared.kafka_config.kafka_client_options``."""
        self.bootstrap = bootstrap
        self.client_options = dict(client_options or {})
        self.timeout = timeout
        self.client_id = client_id
        self.fast_fail = fast_fail
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.clock = clock
        self.pending = 0  # events handed to Kafka and not yet acknowledged or failed
        self.pending_bytes = 0  # their keys and values
        self.unavailable_until = 0.0  # clock time until which requests fail at once
        self.last_error = ""
        self._producer: KafkaProducer | None = None
        self._connecting: asyncio.Task | None = None
        # Building a producer blocks up to its bootstrap timeout; its own thread keeps it from
        # queueing behind sends that block on metadata in the default executor.
        self._connector = ThreadPoolExecutor(1, thread_name_prefix="kafka-connect")

    def _connect(self) -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            batch_size=256 * 1024,
            compression_type=None,
            max_block_ms=int(self.timeout * 1000),
            request_timeout_ms=int(self.timeout * 1000),
            delivery_timeout_ms=int(self.timeout * 1000) + 5,
            bootstrap_timeout_ms=int(min(self.timeout, 5) * 1000),
            retries=5,
            # kafka-python's default lets the reconnect backoff grow to 30 s during an outage,
            # so ingest could keep answering 503 for half a minute after the broker is back.
            reconnect_backoff_max_ms=1000,
            # kafka-python's own metrics are never read (ingest exports Prometheus metrics),
            # and recording them was several per cent of ingest's CPU.
            metrics_enabled=False,
            **self.client_options,
        )

    def _mark_unavailable(self, reason: str) -> None:
        self.last_error = reason
        self.unavailable_until = self.clock() + self.fast_fail

    def _check_available(self, count: int, size: int) -> None:
        """Fail at once when Kafka just failed, or when too much already waits for it."""
        if self.clock() < self.unavailable_until:
            raise KafkaUnavailable(f"Kafka failed moments ago ({self.last_error}); not trying again yet")
        if self.pending and self.pending + count > self.max_pending:
            raise KafkaUnavailable(f"{self.pending} events are already waiting for Kafka (at most {self.max_pending})")
        if self.pending_bytes and self.pending_bytes + size > self.max_pending_bytes:
            raise KafkaUnavailable(
                f"{self.pending_bytes} bytes are already waiting for Kafka (at most {self.max_pending_bytes})"
            )

    async def _ensure(self, timeout: float | None = None) -> KafkaProducer:
        """The producer, built once by one shared task; callers wait for it at most ``timeout``."""
        if self._producer is not None:
            return self._producer
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._build())
            # Retrieved here so that a failure nobody waited for is not logged as unhandled.
            self._connecting.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            return await asyncio.wait_for(asyncio.shield(self._connecting), timeout)
        except TimeoutError:
            raise KafkaUnavailable(f"Kafka at {self.bootstrap}: no connection within {timeout:.1f}s") from None

    async def _build(self) -> KafkaProducer:
        try:
            producer = await asyncio.get_running_loop().run_in_executor(self._connector, self._connect)
        except KafkaError as exc:
            self._mark_unavailable(f"unreachable: {exc}")
            raise KafkaUnavailable(f"Kafka at {self.bootstrap} is unreachable: {exc}") from exc
        self._producer = producer
        return producer

    async def send(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        """Send ``(key, value)`` records, each with ``headers`` (trace context); return once every one is acknowledged.

        Raises KafkaUnavailable within about ``timeout`` seconds when Kafka does not
        acknowledge them all (at once while the producer knows Kafka is away).
        """
        deadline = self.clock() + self.timeout
        size = sum(len(key) + len(value) for key, value in records)
        self._check_available(len(records), size)
        producer = await self._ensure(max(deadline - self.clock(), 0.01))
        if not records:
            return
        self.pending += len(records)
        self.pending_bytes += size
        try:
            await self._send_and_wait(producer, topic, records, deadline, headers)
        except KafkaUnavailable as exc:
            self._mark_unavailable(str(exc)[:200])
            self._discard(producer)
            raise
        finally:
            self.pending -= len(records)
            self.pending_bytes -= size

    async def _send_and_wait(
        self,
        producer: KafkaProducer,
        topic: str,
        records: Sequence[tuple[bytes, bytes]],
        deadline: float,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        # One future for the whole request, settled from Kafka's I/O thread when the last
        # record is acknowledged or the first one fails: one hop into the event loop per
        # request instead of one per record.
        done = loop.create_future()
        lock = threading.Lock()
        pending = [len(records)]
        failed: list[BaseException] = []
        abandoned = threading.Event()  # the request has answered 503: its records stay unsent

        def settle(error: BaseException | None) -> None:
            if done.done():
                return
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        def acked(_metadata) -> None:
            with lock:
                pending[0] -= 1
                last = pending[0] == 0 and not failed
            if last:
                loop.call_soon_threadsafe(settle, None)

        def failed_with(exc: BaseException) -> None:
            with lock:
                first = not failed
                failed.append(exc)
            if first:
                loop.call_soon_threadsafe(settle, exc)

        extra = {"headers": headers} if headers else {}  # trace context, only while tracing is on

        def send_all() -> None:
            # Runs in a thread: send() may block on metadata while Kafka is away, and this may
            # start only after the request gave up (the executor was busy).
            for key, value in records:
                if abandoned.is_set():
                    return
                future = producer.send(topic, key=key, value=value, **extra)
                future.add_callback(acked)
                future.add_errback(failed_with)

        try:
            # One deadline for both waits: a metadata wait must not add its own timeout.
            await asyncio.wait_for(asyncio.to_thread(send_all), timeout=max(deadline - self.clock(), 0.01))
            await asyncio.wait_for(done, timeout=max(deadline - self.clock(), 0.01))
        except (TimeoutError, KafkaError) as exc:
            abandoned.set()
            if not done.done():
                done.cancel()
            raise KafkaUnavailable(f"Kafka did not acknowledge within {self.timeout:.0f}s: {exc!r}") from exc

    def _discard(self, producer: KafkaProducer) -> None:
        """Forget a producer that failed; close it in the background without waiting for Kafka."""
        if self._producer is producer:
            self._producer = None
            threading.Thread(target=self._close_quietly, args=(producer,), daemon=True).start()

    @staticmethod
    def _close_quietly(producer: KafkaProducer) -> None:
        """Close a discarded producer, its I/O thread included, without waiting for Kafka.

        kafka-python's ``close`` flushes first and, when the flush times out (the broker is
        away), raises before it stops the producer's sender thread: each discarded producer
        would keep a thread and its buffered records forever. Force-closing the sender
        aborts those records, after which ``close`` completes.
        """
        try:
            producer.close(0)
            return
        except KafkaError:
            pass
        try:
            sender = producer._sender  # noqa: SLF001 - no public way to abort what is buffered
            sender.force_close()
            sender.join(5)
            producer.close(0)
        except Exception as exc:  # noqa: BLE001 - it is being thrown away
            log.warning("closing a failed Kafka producer: %s", exc)

    async def ready(self, topic: str) -> bool:
        """True when Kafka answers with the partitions of ``topic``."""
        try:
            producer = await self._ensure(self.timeout)
            partitions = await asyncio.wait_for(asyncio.to_thread(producer.partitions_for, topic), self.timeout)
        except (TimeoutError, KafkaUnavailable, KafkaError):
            return False
        return bool(partitions)

    async def close(self) -> None:
        if self._producer is not None:
            try:
                await asyncio.to_thread(self._producer.close, 5)
            except KafkaError as exc:  # Kafka is away: what it never acknowledged was answered 503
                log.warning("Kafka producer did not flush at shutdown: %s", exc)
            self._producer = None
        self._connector.shutdown(wait=False)
