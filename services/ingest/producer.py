"""The Kafka edge of ingest: a kafka-python producer that never blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge in time (or cannot be reached)."""


class EventProducer:
    """Sends keyed records and resolves when Kafka has acknowledged all of them (acks=all)."""

    def __init__(self, bootstrap: str, timeout: float = 15.0, client_id: str = "pr-ingest",
                 client_options: Mapping[str, Any] | None = None):
        """``client_options``: security options from ``shared.kafka_config.kafka_client_options``."""
        self.bootstrap = bootstrap
        self.client_options = dict(client_options or {})
        self.timeout = timeout
        self.client_id = client_id
        self._producer: KafkaProducer | None = None
        self._lock = asyncio.Lock()

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
            # kafka-python's own metrics are never read (ingest exports Prometheus metrics),
            # and recording them was several per cent of ingest's CPU.
            metrics_enabled=False,
            **self.client_options,
        )

    async def _ensure(self) -> KafkaProducer:
        if self._producer is None:
            async with self._lock:
                if self._producer is None:
                    try:
                        self._producer = await asyncio.to_thread(self._connect)
                    except KafkaError as exc:
                        raise KafkaUnavailable(f"Kafka at {self.bootstrap} is unreachable: {exc}") from exc
        return self._producer

    async def send(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send ``(key, value)`` records; return once every one is acknowledged."""
        producer = await self._ensure()
        if not records:
            return
        loop = asyncio.get_running_loop()
        # One future for the whole request, settled from Kafka's I/O thread when the last
        # record is acknowledged or the first one fails: one hop into the event loop per
        # request instead of one per record.
        done = loop.create_future()
        lock = threading.Lock()
        pending = [len(records)]
        failed: list[BaseException] = []

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

        def send_all() -> None:
            # Runs in a thread: send() may block on metadata while Kafka is away.
            for key, value in records:
                future = producer.send(topic, key=key, value=value)
                future.add_callback(acked)
                future.add_errback(failed_with)

        try:
            await asyncio.wait_for(asyncio.to_thread(send_all), timeout=self.timeout)
            await asyncio.wait_for(done, timeout=self.timeout)
        except (asyncio.TimeoutError, KafkaError) as exc:
            if not done.done():
                done.cancel()
            raise KafkaUnavailable(f"Kafka did not acknowledge within {self.timeout:.0f}s: {exc!r}") from exc

    async def ready(self, topic: str) -> bool:
        """True when Kafka answers with the partitions of ``topic``."""
        try:
            producer = await self._ensure()
            partitions = await asyncio.wait_for(asyncio.to_thread(producer.partitions_for, topic), self.timeout)
        except (KafkaUnavailable, KafkaError, asyncio.TimeoutError):
            return False
        return bool(partitions)

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.close, 5)
            self._producer = None
