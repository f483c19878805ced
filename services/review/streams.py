"""Live alert streams: one Redis reader per instance fanning out to bounded per-client queues.

A client first subscribes, then replays what it missed from the Redis stream, then follows
the live queue, skipping what the replay already sent: no gap (the subscription predates
the replay) and no duplicate (stream ids only grow). A client whose queue overflows is
dropped, so a slow reader never holds up the hub or the other clients; it reconnects with
its last cursor and resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from .alert_feed import AlertStore
from .alerts import AlertFilter, later

log = logging.getLogger("services.review.streams")

HEARTBEAT = object()  # yielded by follow() when a client has been idle for the heartbeat interval
REPLAY_BATCH = 200


class ClientQueue:
    """One client's bounded queue of feed items."""

    def __init__(self, maxsize: int):
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = False


class AlertHub:
    """Reads new stream entries once (XREAD BLOCK) and hands them to every subscriber."""

    # Blocks well inside redis-py's default 5 s socket timeout.
    def __init__(
        self,
        store: AlertStore,
        queue_size: int,
        block_ms: int = 1000,
        retry_delay: float = 1.0,
        on_drop: Callable[[], None] | None = None,
    ):
        self.store = store
        self.on_drop = on_drop
        self.queue_size = queue_size
        self.block_ms = block_ms
        self.retry_delay = retry_delay
        self.subscribers: set[ClientQueue] = set()
        self.dropped_total = 0
        self._task: asyncio.Task | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="alert-hub")

    async def stop(self) -> None:
        """Let the current XREAD finish (cancelling one mid-read can wedge the connection), then end."""
        if self._task is None:
            return
        self._stopping = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.block_ms / 1000 + 3)
        except TimeoutError:
            self._task.cancel()

    def subscribe(self) -> ClientQueue:
        sub = ClientQueue(self.queue_size)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: ClientQueue) -> None:
        self.subscribers.discard(sub)

    def publish(self, items: list[dict[str, Any]]) -> None:
        """Hand items to every subscriber without waiting; drop those that are full."""
        for sub in list(self.subscribers):
            for item in items:
                try:
                    sub.queue.put_nowait(item)
                except asyncio.QueueFull:
                    sub.dropped = True
                    self.subscribers.discard(sub)
                    self.dropped_total += 1
                    if self.on_drop is not None:
                        self.on_drop()
                    log.warning("dropped a live-stream client that fell %d alerts behind", self.queue_size)
                    break

    async def _run(self) -> None:
        stream = self.store.keys.alerts_stream()
        last: str | None = None
        while not self._stopping:
            try:
                if last is None:
                    # An explicit id, not "$": "$" re-read on every call would skip entries
                    # added between two reads.
                    last = await self.store.latest_id()
                answer = await self.store.redis.xread({stream: last}, block=self.block_ms, count=500)
                for _name, rows in answer or []:
                    if rows:
                        last = rows[-1][0].decode() if isinstance(rows[-1][0], bytes) else rows[-1][0]
                        self.publish(await self.store.items(rows))
            except Exception as exc:  # noqa: BLE001 - Redis hiccup: clients keep their cursors, retry
                log.warning("alert hub read failed (%s); retrying", exc)
                await asyncio.sleep(self.retry_delay)


async def follow(
    store: AlertStore, hub: AlertHub, flt: AlertFilter, cursor: str | None, heartbeat: float | None = None
) -> AsyncIterator[Any]:
    """Feed items after ``cursor`` (None: from now on), oldest first, then live; forever.

    Yields HEARTBEAT after ``heartbeat`` idle seconds when given. Ends when the client was
    dropped for falling behind.
    """
    sub = hub.subscribe()
    try:
        last = cursor if cursor is not None else await store.latest_id()
        while True:
            page = await store.oldest_first(flt, REPLAY_BATCH, last)
            for item in page.items:
                yield item
                last = item["cursor"]
            if page.next_cursor is not None:
                # A page cut short by the scan bound may end past its last item.
                last = page.next_cursor
                continue
            if not sub.dropped:
                break
            # The live queue overflowed while this client was catching up: catching up from
            # Redis is still exact, so start a fresh subscription and replay the rest.
            hub.unsubscribe(sub)
            sub = hub.subscribe()
        while not sub.dropped:
            try:
                item = await asyncio.wait_for(sub.queue.get(), heartbeat) if heartbeat else await sub.queue.get()
            except TimeoutError:
                yield HEARTBEAT
                continue
            if sub.dropped:
                break
            if not later(item["cursor"], last) or not flt.matches(item):
                continue
            yield item
            last = item["cursor"]
    finally:
        hub.unsubscribe(sub)
