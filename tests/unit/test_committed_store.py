"""CommittedStore and CommitHooks: a state reaches RocksDB only when its transaction commits."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
import rocksdict
from faust.types import TP

from services.scoring.changelog import partition_for
from services.scoring.committed_store import CommittedStore
from services.scoring.faust_compat import CommitHooks

pytestmark = pytest.mark.unit

PARTITIONS = 4
CHANGELOG = "app-deals-changelog"


class FakeRocksStore:
    """faust's RocksDB store, as far as CommittedStore uses it: real rocksdict databases per partition."""

    def __init__(self, path):
        self.path = path
        self.dbs: dict[int, rocksdict.Rdict] = {}
        self.persisted: dict[TP, int] = {}

    def _db_for_partition(self, partition: int):
        if partition not in self.dbs:
            self.dbs[partition] = rocksdict.Rdict(
                str(self.path / f"p{partition}"), options=rocksdict.Options(raw_mode=True)
            )
        return self.dbs[partition]

    def set_persisted_offset(self, tp, offset):
        self.persisted[tp] = offset

    def items(self):
        for db in self.dbs.values():
            yield from db.items()


def key_in(partition: int, n: int = 0) -> bytes:
    return [f"d{i}".encode() for i in range(1000) if partition_for(f"d{i}".encode(), PARTITIONS) == partition][n]


def committed_store(tmp_path) -> CommittedStore:
    return CommittedStore(FakeRocksStore(tmp_path), PARTITIONS, lambda: CHANGELOG, TP)


class FakeTransactionProducer:
    def __init__(self, log, fail_commit=False):
        self.log, self.fail_commit = log, fail_commit

    async def send_offsets_to_transaction(self, offsets, group_id):
        self.log.append("offsets")

    async def commit_transaction(self):
        if self.fail_commit:
            raise RuntimeError("fenced")
        self.log.append("commit")

    async def begin_transaction(self):
        self.log.append("begin")


def faust_producer(log, tids, fail_commit=False):
    async def abort_transaction(tid):
        log.append(("abort", tid))

    async def stop_transaction(tid):
        log.append(("stop", tid))

    return SimpleNamespace(
        _transaction_producers={tid: FakeTransactionProducer(log, fail_commit) for tid in tids},
        _trn_locks={tid: asyncio.Lock() for tid in tids},
        commit_transactions=None,
        abort_transaction=abort_transaction,
        stop_transaction=stop_transaction,
    )


def test_staged_states_are_read_back_but_not_in_rocksdb_before_the_commit(tmp_path):
    store = committed_store(tmp_path)
    key = key_in(1)
    store.stage(1, {key: b"open"})
    assert store.get(key) == b"open"
    assert store.store._db_for_partition(1).get(key) is None
    assert dict(store.items()) == {key: b"open"}


async def test_a_commit_writes_exactly_that_transactions_states_and_the_changelog_offset(tmp_path):
    store = committed_store(tmp_path)
    k1, k2 = key_in(2, 0), key_in(2, 1)
    store.stage(2, {k1: b"s1"})
    store.acknowledged(2, 41)
    log: list = []
    producer = faust_producer(log, ["app-0-2"])
    CommitHooks(producer, store).install()
    await producer.commit_transactions({"app-0-2": {TP("deal-events", 2): 10}}, "app")
    store.stage(2, {k2: b"next transaction"})  # after the commit: not part of it

    assert log == ["offsets", "commit", "begin"]
    db = store.store._db_for_partition(2)
    assert db.get(k1) == b"s1" and db.get(k2) is None
    assert store.store.persisted == {TP(CHANGELOG, 2): 41}
    assert store.get(k2) == b"next transaction"


async def test_an_aborted_failed_or_stopped_transaction_never_reaches_rocksdb(tmp_path):
    store = committed_store(tmp_path)
    k0, k1, k3 = key_in(0), key_in(1), key_in(3)
    log: list = []
    failing = faust_producer(log, ["app-0-0"], fail_commit=True)
    CommitHooks(failing, store).install()
    store.stage(0, {k0: b"aborted"})
    with pytest.raises(RuntimeError, match="fenced"):
        await failing.commit_transactions({"app-0-0": {TP("deal-events", 0): 1}}, "app")

    producer = faust_producer(log, ["app-0-1", "app-0-3"])
    CommitHooks(producer, store).install()
    store.stage(1, {k1: b"aborted"})
    store.stage(3, {k3: b"moved away"})
    await producer.abort_transaction("app-0-1")
    await producer.stop_transaction("app-0-3")

    for partition, key in ((0, k0), (1, k1), (3, k3)):
        assert store.get(key) is None
        assert store.store._db_for_partition(partition).get(key) is None
    assert store.store.persisted == {}


def test_discard_drops_only_the_given_partitions(tmp_path):
    store = committed_store(tmp_path)
    k1, k2 = key_in(1), key_in(2)
    store.stage(1, {k1: b"a"})
    store.stage(2, {k2: b"b"})
    assert store.discard({1}) == 1
    assert store.get(k1) is None and store.get(k2) == b"b"


async def test_states_being_committed_are_still_read_until_they_are_in_rocksdb(tmp_path):
    store = committed_store(tmp_path)
    key = key_in(1)
    store.stage(1, {key: b"s1"})
    reads = []

    class SlowCommit(FakeTransactionProducer):
        async def commit_transaction(self):
            reads.append(store.get(key))  # the fold runs while the commit is on the network
            await super().commit_transaction()

    producer = faust_producer([], ["app-0-1"])
    producer._transaction_producers["app-0-1"] = SlowCommit([])
    CommitHooks(producer, store).install()
    await producer.commit_transactions({"app-0-1": {TP("deal-events", 1): 1}}, "app")
    assert reads == [b"s1"]
    assert store.get(key) == b"s1" and store.committing == {}
