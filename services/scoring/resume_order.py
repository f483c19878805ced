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

It happens on any restart that finds events waiting behind committed offsets: after a crash,
and after a clean stop too. The crash test found it as deals missing their early events; a
trace of the offsets the agent received showed the jumps (e.g. 13 → 19 on one partition)
right after "Seek stream partitions to committed offsets". faust-streaming had fixed this
order once (issue #216, pull request #217: seek, then resume); the version we pin has it
the other way round again.

The fix here keeps faust's calls and only reorders their effect: stream partitions that
faust asks to resume are held back until the next ``perform_seek`` has finished, then
resumed. Changelog partitions (table recovery) pass straight through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


class SeekBeforeResume:
    """Wraps a faust consumer's ``resume_partitions`` and ``perform_seek`` (see the module doc)."""

    def __init__(self, consumer: Any, is_changelog: Callable[[Any], bool]):
        self.consumer = consumer
        self.is_changelog = is_changelog
        self.held: set = set()
        self._resume = consumer.resume_partitions
        self._seek = consumer.perform_seek

    def install(self) -> SeekBeforeResume:
        self.consumer.resume_partitions = self.resume_partitions
        self.consumer.perform_seek = self.perform_seek
        return self

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
        except BaseException:
            log.warning("seek to committed offsets did not complete; resuming %d partition(s) anyway", len(self.held))
            raise
        finally:
            held, self.held = self.held, set()
            assigned = set(self.consumer.assignment())
            if held & assigned:  # a rebalance in between may have taken some away
                self._resume(held & assigned)


def seek_before_resuming_streams(app: Any) -> SeekBeforeResume:
    """Install the reordering on ``app``'s consumer; call before the worker starts."""
    consumer = app.consumer
    return SeekBeforeResume(consumer, lambda tp: tp.topic in app.tables.changelog_topics).install()
