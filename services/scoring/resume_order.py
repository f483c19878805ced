"""Make faust seek the deal-events partitions to their committed offsets *before* reading them.

After a rebalance (every start is one), faust recovers the table, then calls
``consumer.resume_partitions(stream partitions)`` and only after that
``await consumer.perform_seek()`` (faust-streaming 0.15.3, ``Recovery.on_recovery_completed``
and ``Recovery._resume_streams``). The consumer runs in its own thread and keeps fetching,
so in the window between the two calls the agent already receives records from the
partitions' fetch positions. The seek then moves the positions back under records that are
already in faust's buffers; faust's read-offset bookkeeping sees the jump as a gap, marks the
missing offsets as acknowledged, and those events are **never processed while their offsets
get committed**. The worker's state silently misses them.

It can happen on any restart that finds events waiting behind committed offsets. The crash
test found it as deals missing their early events; a trace of the offsets the agent received
showed the jumps (e.g. 13 → 19 on one partition) right after "Seek stream partitions to
committed offsets". faust-streaming had fixed this order once (issue #216, pull request
#217: seek, then resume); the version we pin has it the other way round again. Since the
alerts travel in the transactions, the crash test passes without this wrapper too
(docs/decisions.md); it stays because the order is wrong in faust's code.

The fix here keeps faust's calls and only reorders their effect: stream partitions that
faust asks to resume are held back until the next ``perform_seek`` has finished, then
resumed. Changelog partitions (table recovery) pass straight through.

A second hole is next to it: a partition the group has never committed is not sought at
all (aiokafka seeks only to a committed offset above 0). Records the consumer had fetched
for it before a rebalance are dropped with faust's buffers, and the position stays after
them. A two-worker run without transactions lost the first ~20 events of three partitions
that way, when the second worker joined while events arrived. For such partitions the
wrapper seeks to the earliest offset, where a group that has committed nothing starts
(auto_offset_reset is "earliest"); the fold is idempotent, so reading an event twice
changes nothing.

A third workaround lives here too, because it is installed on the same consumer: see
:class:`KnownHighwaters` (table recovery after the broker came back).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import faust

log = logging.getLogger(__name__)


class SeekBeforeResume:
    """Wraps a faust consumer's ``resume_partitions`` and ``perform_seek`` (see the module doc)."""

    def __init__(self, consumer: Any, is_changelog: Callable[[Any], bool]):
        self.consumer = consumer
        self.is_changelog = is_changelog
        self.held: set = set()
        self.committed: dict[tuple[str, int], int | None] = {}
        self._resume = consumer.resume_partitions
        self._seek = consumer.perform_seek
        self._seek_to_committed = consumer.seek_to_committed

    def install(self) -> SeekBeforeResume:
        self.consumer.resume_partitions = self.resume_partitions
        self.consumer.perform_seek = self.perform_seek
        self.consumer.seek_to_committed = self.seek_to_committed  # faust's perform_seek calls it
        return self

    async def seek_to_committed(self):
        """faust's own seek, remembering the committed offsets it found."""
        committed = await self._seek_to_committed()
        self.committed = {(tp.topic, tp.partition): offset for tp, offset in committed.items()}
        return committed

    def resume_partitions(self, tps: Iterable) -> None:
        """Resume changelog partitions now; hold stream partitions until the seek is done."""
        tps = set(tps)
        streams = {tp for tp in tps if not self.is_changelog(tp)}
        self.held |= streams
        if tps - streams:
            self._resume(tps - streams)

    async def perform_seek(self) -> None:
        """Seek to the committed offsets while the held partitions are still paused, then resume them.

        If the seek fails or is cancelled (faust gives it a timeout), the partitions are resumed
        anyway, as faust would have done: a worker that stops reading them would be worse.
        """
        try:
            await self._seek()
            await self._rewind_never_committed(self.held & set(self.consumer.assignment()))
        except BaseException:
            log.warning("seek to committed offsets did not complete; resuming %d partition(s) anyway", len(self.held))
            raise
        finally:
            held, self.held = self.held, set()
            assigned = set(self.consumer.assignment())
            if held & assigned:  # a rebalance in between may have taken some away
                self._resume(held & assigned)

    async def _rewind_never_committed(self, tps: set) -> None:
        never = [tp for tp in tps if (self.committed.get((tp.topic, tp.partition)) or 0) <= 0]
        if never:
            earliest = await self.consumer.earliest_offsets(*never)
            await self.consumer.seek_wait({tp: earliest[tp] for tp in never if earliest.get(tp) is not None})


class KnownHighwaters:
    """Never let table recovery read an unknown highwater as "the changelog is empty".

    faust-streaming 0.15.3 builds the changelog highwaters for recovery with
    ``AIOKafkaConsumerThread._highwaters``: with transactions that is aiokafka's
    ``last_stable_offset(tp)``, which is ``None`` until the consumer has fetched from the
    partition since it was assigned. ``Recovery._build_highwaters`` turns ``None`` into -1,
    and the consistency check in ``Recovery._restart_recovery`` then compares the offsets
    recovery already reached (kept across rebalances) with -1 and raises
    ``ConsistencyError: persisted offset ... is higher than the last offset in that topic
    (highwater) (8292 > -1)``, which crashes the worker. Nothing was inconsistent: it is the
    first recovery after a broker restart, before any fetch. On a fresh start it cannot
    happen, because the offsets reached are -1 as well.

    The fix asks the broker for what the consumer does not know yet: ``end_offsets``, which
    aiokafka sends with the consumer's isolation level, so with ``read_committed`` it is the
    last stable offset, the same value faust wanted. While the broker is still coming back
    (metadata not ready, timeouts) the question is retried for up to ``patience`` seconds;
    faust's own recovery timeout and rebalances still end the wait first.
    """

    def __init__(self, thread: Any, patience: float = 60.0, pause: float = 0.5):
        self.thread = thread
        self.patience = patience
        self.pause = pause
        self._highwaters = thread._highwaters

    def install(self) -> KnownHighwaters:
        self.thread._highwaters = self.highwaters
        return self

    async def highwaters(self, partitions) -> dict:
        """faust's highwaters, with the ones the consumer does not know asked from the broker."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                found = dict(await self._highwaters(partitions))
                unknown = [tp for tp in partitions if found.get(tp) is None]
                if unknown:
                    found.update(await self.thread._ensure_consumer().end_offsets(unknown))
                missing = [tp for tp in partitions if found.get(tp) is None]
                if not missing:
                    return found
                problem = f"no end offset for {len(missing)} partition(s)"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker is not ready yet: ask again
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise RuntimeError(f"changelog highwaters still unknown after {self.patience:.0f}s: {problem}")
            log.warning("changelog highwaters not known yet (%s); asking the broker again", problem)
            await asyncio.sleep(self.pause)


class SeekBeforeResumeApp(faust.App):
    """A faust app whose consumer gets the reordering as it is created.

    It must not be installed by touching ``app.consumer`` before the worker runs: faust fixes
    a consumer's ``in_transaction`` when it builds it, and before the worker has started the
    app is not "in a worker" yet, so such a consumer (and with it the whole worker) would run
    without transactions while exactly-once is configured.
    """

    #: Kafka transaction timeout (ms) of the transactional producers; set by create_app.
    transaction_timeout_ms: int = 60_000

    def _new_producer(self):
        producer = super()._new_producer()
        # faust builds every transactional producer from the app producer's settings and has no
        # option for the timeout, so it is added to the extra settings it uses in a transaction.
        extra = producer._settings_extra
        timeout_ms = self.transaction_timeout_ms
        producer._settings_extra = lambda: ({**extra(), "transaction_timeout_ms": timeout_ms}
                                            if self.in_transaction else extra())
        return producer

    def _new_consumer(self):
        consumer = super()._new_consumer()
        SeekBeforeResume(consumer, lambda tp: tp.topic in self.tables.changelog_topics).install()
        KnownHighwaters(consumer._thread).install()
        return consumer
