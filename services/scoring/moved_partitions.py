"""Forget the deal states of partitions that moved in a rebalance, so they are recovered
from the committed changelog.

The deal table lives in faust's memory store, and ``BulkChangelog.write`` puts each batch's
new states into it at once, while the changelog records (and the alerts) that carry them
commit only with the partition's transaction. When a rebalance takes a partition away,
faust stops that partition's transactional producer without committing; the next owner's
producer fences it and the open transaction is **aborted**: states and alerts both. The
store does not roll back, and faust's memory store forgets only the keys it read back from
the changelog itself (``Store.on_recovery_completed``), never the ones written here. So a
worker that gets the partition back later still holds the aborted states. Table recovery
re-reads the partition's committed changelog (faust resets the recovery offset of a revoked
partition) and overwrites the deals it finds there, but a deal whose every record was in
aborted transactions keeps its aborted state. The events are read again from the committed
offsets, the fold finds their ids in the state's ``seen`` and skips them as duplicates:
the alert is never raised again, and the changelog never gets the state. The rebalance
storm found it as 2 of 840 discounts without an alert, their records aborted on deal-alerts.

The fix: on every rebalance, before recovery starts, drop the store's keys of the
partitions revoked or newly assigned, and reset recovery's offsets for them (faust does that
too when it handles the same rebalance, but skips it when a newer rebalance has begun).
Recovery then rebuilds those partitions from the committed changelog alone
(``read_committed``), which is exactly the state that goes with the committed offsets the
events are re-read from. Partitions kept across the rebalance keep their keys: their
producer and its open transaction stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from typing import Any

from faust.types import TP

from .changelog import partition_for

log = logging.getLogger(__name__)


def drop_partitions(store: MutableMapping[bytes, Any], partitions: set[int], total: int) -> int:
    """Remove from ``store`` every key whose Kafka partition is in ``partitions``; return how many."""
    if not partitions:
        return 0
    doomed = [key for key in store if partition_for(key, total) in partitions]
    for key in doomed:
        del store[key]
    return len(doomed)


class ForgetMovedPartitions:
    """Wraps a table's ``on_rebalance`` to forget the partitions that moved (see the module doc)."""

    def __init__(self, app: Any, table: Any, partitions: int, source_topic: str):
        self.app = app
        self.table = table
        self.partitions = partitions
        self.source_topic = source_topic
        self._on_rebalance = table.on_rebalance

    def install(self) -> ForgetMovedPartitions:
        self.table.on_rebalance = self.on_rebalance
        return self

    def moved(self, revoked: Iterable, newly_assigned: Iterable) -> set[int]:
        """Partition numbers of the table (its changelog or its source topic) that moved."""
        topics = {self.table.changelog_topic.get_topic_name(), self.source_topic}
        return {tp.partition for tp in (*revoked, *newly_assigned) if tp.topic in topics}

    async def on_rebalance(self, assigned, revoked, newly_assigned, generation_id: int = 0) -> None:
        moved = self.moved(revoked, newly_assigned)
        if moved:
            dropped = drop_partitions(self.table.data, moved, self.partitions)
            # Recovery must then start those partitions from the changelog's beginning.
            changelog = self.table.changelog_topic.get_topic_name()
            recovery = self.app.tables.recovery
            for partition in moved:
                recovery.revoke(TP(changelog, partition))
            log.info("forgot %d deal state(s) of %d moved partition(s) %s; recovery rebuilds them from the changelog",
                     dropped, len(moved), sorted(moved))
        await self._on_rebalance(assigned, revoked, newly_assigned, generation_id)

