"""Which deal states a rebalance forgets: those of the partitions that moved.

A moved partition's states may come from a transaction the rebalance aborted; dropping them
lets recovery rebuild the partition from the committed changelog (docs/decisions.md, "A
partition that moves forgets its deal states"). faust_compat.ForgetMovedPartitions calls this
from the table's ``on_rebalance``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .changelog import partition_for


def drop_partitions(store: MutableMapping[bytes, Any], partitions: set[int], total: int) -> int:
    """Remove from ``store`` every key whose Kafka partition is in ``partitions``; return how many."""
    if not partitions:
        return 0
    doomed = [key for key in store if partition_for(key, total) in partitions]
    for key in doomed:
        del store[key]
    return len(doomed)
