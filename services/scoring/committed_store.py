"""Deal states of open transactions kept apart from the RocksDB store until their transaction commits.

faust writes table updates to its store at once, before the transaction carrying their
changelog records commits; an aborted transaction (a crash, a rebalance) would leave its
states in RocksDB, which, unlike the memory store, outlives the process. Here a batch's states
are *staged* per partition, in the same locked step that sends their changelog records; reads
see staged states first; only when faust commits a partition's transaction are they written
to RocksDB (one write batch per partition) with the changelog offset they reach, so a restart
recovers from there. When the transaction aborts, or the partition moves, they are dropped.
docs/decisions.md, "The deal table on RocksDB", says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import rocksdict

from .changelog import partition_for
from .faust_compat import rocksdb_partition_db


class CommittedStore:
    """The deal table's view for the fold: staged states over faust's RocksDB store."""

    def __init__(self, store: Any, partitions: int, changelog_topic: Callable[[], str], tp: Callable[[str, int], Any]):
        """``store`` is faust's RocksDB store of the table (``table.data``)."""
        self.store = store
        self.partitions = partitions
        self.changelog_topic = changelog_topic
        self.tp = tp
        self.staged: dict[int, dict[bytes, bytes]] = {}
        # Taken by a commit that is under way: still what the fold must read until it is in RocksDB.
        self.committing: dict[int, dict[bytes, bytes]] = {}
        self.offsets: dict[int, int] = {}  # partition -> highest acknowledged changelog offset staged

    # ------------------------------------------------------------------ reads (the fold)

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        partition = partition_for(key, self.partitions)
        for pending in (self.staged, self.committing):
            states = pending.get(partition)
            if states is not None and key in states:
                return states[key]
        value = self._db(partition).get(key)
        return default if value is None else value

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every committed state of the store's active partitions, with pending ones in their place."""
        newest: dict[bytes, bytes] = {}
        for pending in (self.committing, self.staged):  # staged ones are newer
            for states in list(pending.values()):
                newest.update(states)
        yield from newest.items()
        for key, value in self.store.items():
            if key not in newest:
                yield key, value

    # ------------------------------------------------------------------ writes

    def stage(self, partition: int, states: Mapping[bytes, bytes]) -> None:
        """Hold ``states`` of ``partition`` until its transaction commits (call under faust's lock for it)."""
        self.staged.setdefault(partition, {}).update(states)

    def acknowledged(self, partition: int, offset: int) -> None:
        """A staged changelog record of ``partition`` reached Kafka at ``offset``."""
        if offset > self.offsets.get(partition, -1):
            self.offsets[partition] = offset

    def take(self, partition: int) -> tuple[dict[bytes, bytes], int | None]:
        """What a commit of ``partition``'s transaction makes durable (call under the lock, before
        committing). They stay readable until :meth:`committed` or :meth:`discard`."""
        states = self.staged.pop(partition, {})
        if states:
            self.committing[partition] = states
        return states, self.offsets.pop(partition, None)

    def committed(self, partition: int, states: Mapping[bytes, bytes], offset: int | None) -> None:
        """Write the states a commit made durable into RocksDB, with the changelog offset they reach."""
        try:
            self._write(partition, states, offset)
        finally:
            if self.committing.get(partition) is states:
                del self.committing[partition]

    def _write(self, partition: int, states: Mapping[bytes, bytes], offset: int | None) -> None:
        if not states:
            return
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in states.items():
            batch.put(key, value)
        self._db(partition).write(batch)
        if offset is not None:
            # Recovery starts after this offset: everything up to it is in the database now.
            self.store.set_persisted_offset(self.tp(self.changelog_topic(), partition), offset)

    def write_through(self, partition: int, states: Mapping[bytes, bytes]) -> None:
        """Without transactions: the states are acknowledged on the changelog, so durable at once."""
        self._write(partition, states, None)

    def discard(self, partitions: set[int]) -> int:
        """Drop the staged states of ``partitions`` (their transaction aborted or they moved); return how many."""
        dropped = 0
        for partition in partitions:
            dropped += len(self.staged.pop(partition, {})) + len(self.committing.pop(partition, {}))
            self.offsets.pop(partition, None)
        return dropped

    def _db(self, partition: int):
        return rocksdb_partition_db(self.store, partition)
