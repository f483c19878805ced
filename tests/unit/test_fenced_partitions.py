"""A partition's transactional producer fenced mid-batch or at commit: dropped only if the partition moved.

Fakes stand in for faust's producer and aiokafka's transactional producers; the deal states go
through the real CommittedStore (rocksdict in tmp_path), BulkChangelog and DealProcessor.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
import rocksdict
from aiokafka.errors import IllegalOperation, ProducerFenced
from faust.types import TP

from services.scoring.changelog import BulkChangelog, partition_for
from services.scoring.committed_store import CommittedStore
from services.scoring.faust_compat import CommitHooks, FencedTransactions, StopInactiveProducers
from services.scoring.processor import DealProcessor
from services.shared.events import encode_event
from services.shared.keys import RedisKeys
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

pytestmark = pytest.mark.unit

PARTITIONS = 4
FENCED = 1  # the partition whose producer the new owner fenced
CHANGELOG = "app-deals-changelog"
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


class FakeRocksStore:
    def __init__(self, path):
        self.path = path
        self.dbs: dict[int, rocksdict.Rdict] = {}
        self.persisted: dict = {}

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


class Batch(list):
    def append(self, key, value, timestamp, headers=()):
        super().append((key, value))
        return True


class FakeTransactionProducer:
    """One partition's aiokafka transactional producer; ``fenced`` fails what it is given as aiokafka does."""

    def __init__(self, partition: int, fenced: str | None = None):
        self.partition = partition
        self.fenced = fenced  # None, "acks" (the sender dies: every pending batch fails) or "commit"
        self.sent: list[bytes] = []
        self.committed = False
        self.stopped = False

    def create_batch(self):
        return Batch()

    def _ack(self) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if self.fenced == "acks":
            asyncio.get_running_loop().call_soon(future.set_exception, ProducerFenced())
        else:
            asyncio.get_running_loop().call_soon(future.set_result, SimpleNamespace(offset=10))
        return future

    async def send_batch(self, batch, topic, partition):
        self.sent.extend(key for key, _ in batch)
        return self._ack()

    async def partitions_for(self, topic):
        return set(range(PARTITIONS))

    async def send_offsets_to_transaction(self, offsets, group_id):
        if self.fenced == "acks":  # the transaction is in a fatal state since the sender died
            raise IllegalOperation("Not in the middle of a transaction")

    async def commit_transaction(self):
        if self.fenced == "commit":
            raise ProducerFenced()
        self.committed = True

    async def begin_transaction(self):
        pass

    async def stop(self):
        self.stopped = True


def tid(partition: int) -> str:
    return f"app-0-{partition}"


def fake_app(fenced: str | None, owned: set[int], rebalancing: bool = False):
    producers = {tid(p): FakeTransactionProducer(p, fenced if p == FENCED else None) for p in range(PARTITIONS)}

    async def abort_transaction(transactional_id):
        pass

    async def stop_transaction(transactional_id):
        producers.pop(transactional_id, None)

    faust_producer = SimpleNamespace(
        _transaction_producers=producers,
        _trn_locks={t: asyncio.Lock() for t in producers},
        commit_transactions=None,
        abort_transaction=abort_transaction,
        stop_transaction=stop_transaction,
    )
    return SimpleNamespace(
        in_transaction=True,
        producer=faust_producer,
        conf=SimpleNamespace(id="app"),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
        rebalancing=rebalancing,
        owned=owned,
    )


def deal_in(partition: int, n: int = 0) -> str:
    return [f"api:d{i}" for i in range(1000) if partition_for(f"api:d{i}".encode(), PARTITIONS) == partition][n]


class Worker:
    """The worker's pieces around one fake app: the fold, the changelog and the commit hooks."""

    def __init__(self, app, tmp_path, with_fence: bool = True, patience: float = 0.0):
        self.app = app
        self.store = CommittedStore(FakeRocksStore(tmp_path), PARTITIONS, lambda: CHANGELOG, TP)
        self.forgotten: list[set[int]] = []

        def forget(partitions: set[int]) -> int:
            self.forgotten.append(set(partitions))
            return self.store.discard(partitions)

        def moved(partition: int) -> bool:  # as app.partition_moved with RocksDB
            return partition not in app.owned or app.rebalancing

        self.fence = FencedTransactions(app, moved, forget, patience=patience, pause=0.01) if with_fence else None
        table = SimpleNamespace(data=None, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
        self.changelog = BulkChangelog(
            app,
            table,
            PARTITIONS,
            "deal-alerts",
            encode_alert=lambda a: a.record(),
            committed=self.store,
            fenced=self.fence,
        )
        self.redis_writes: list[set[str]] = []

        async def write_read_model(placements, rows):
            self.redis_writes.append(set(placements))

        self.processor = DealProcessor(
            self.store,
            None,
            RedisKeys(),
            STAGES,
            send_alert=None,
            save_states=self.changelog.write,
            write_read_model=write_read_model,
            partitions=PARTITIONS,
        )
        CommitHooks(app.producer, self.store, fenced=lambda: self.fence).install()

    async def fold(self, deal_ids):
        events = [event(deal_id=d, type="deal.created", at=0, name=d, amount=1000) for d in deal_ids]
        return await self.processor.process([encode_event(e) for e in events])

    async def commit(self):
        await self.app.producer.commit_transactions(
            {tid(p): {TP("deal-events", p): 5} for p in range(PARTITIONS)}, "app"
        )

    def in_rocksdb(self, deal_id: str) -> bool:
        partition = partition_for(deal_id.encode(), PARTITIONS)
        return self.store.store._db_for_partition(partition).get(deal_id.encode()) is not None


DEALS = [deal_in(p) for p in range(PARTITIONS)]


@pytest.mark.parametrize(
    "owned, rebalancing",
    [({0, 2, 3}, False), ({0, 1, 2, 3}, True)],
    ids=["partition left this worker", "rebalance under way"],
)
async def test_a_fenced_partition_that_moved_is_dropped_and_the_others_commit(tmp_path, caplog, owned, rebalancing):
    app = fake_app("acks", owned=owned, rebalancing=rebalancing)
    fenced_producer = app.producer._transaction_producers[tid(FENCED)]
    worker = Worker(app, tmp_path)

    with caplog.at_level(logging.WARNING, logger="services.scoring.faust_compat"):
        await worker.fold(DEALS)
        await worker.commit()

    # Redis gets the other partitions' deals only: the new owner writes the fenced one's card.
    assert worker.redis_writes == [{d for d in DEALS if d != DEALS[FENCED]}]
    # The fenced producer is popped and stopped, as faust's own handler does; the others commit.
    assert tid(FENCED) not in app.producer._transaction_producers and fenced_producer.stopped
    assert all(app.producer._transaction_producers[tid(p)].committed for p in range(PARTITIONS) if p != FENCED)
    assert {p for p in range(PARTITIONS) if worker.in_rocksdb(DEALS[p])} == {0, 2, 3}
    assert worker.store.get(DEALS[FENCED].encode()) is None  # nothing staged for it is read back
    assert worker.forgotten == [{FENCED}]
    drops = [r for r in caplog.records if "was fenced" in r.getMessage()]
    assert len(drops) == 1 and "dropped" in drops[0].getMessage() and worker.fence.drops == 1


async def test_a_fenced_partition_still_owned_outside_a_rebalance_crashes_the_fold(tmp_path):
    app = fake_app("acks", owned=set(range(PARTITIONS)), rebalancing=False)
    worker = Worker(app, tmp_path)

    with pytest.raises(ProducerFenced):
        await worker.fold(DEALS)

    assert worker.redis_writes == []  # nothing of the batch reaches Redis before the crash
    assert tid(FENCED) in app.producer._transaction_producers  # left for faust's shutdown
    assert worker.forgotten == [] and worker.fence.drops == 0


async def test_a_fence_that_comes_before_the_worker_hears_of_the_rebalance_waits_for_it(tmp_path):
    """A worker the group dropped is fenced by the new owner before its next heartbeat tells it."""
    app = fake_app("acks", owned=set(range(PARTITIONS)), rebalancing=False)
    worker = Worker(app, tmp_path, patience=5.0)

    async def rebalance_soon():
        await asyncio.sleep(0.1)
        app.rebalancing = True  # faust's on_rebalance_start, the first thing its revoke does

    started = asyncio.get_running_loop().time()
    await asyncio.gather(worker.fold(DEALS), rebalance_soon())

    assert asyncio.get_running_loop().time() - started < 2.0  # dropped as soon as the rebalance showed
    assert worker.redis_writes == [{d for d in DEALS if d != DEALS[FENCED]}] and worker.fence.drops == 1


async def test_a_fence_with_no_rebalance_within_the_patience_crashes_the_fold(tmp_path):
    app = fake_app("acks", owned=set(range(PARTITIONS)), rebalancing=False)
    worker = Worker(app, tmp_path, patience=0.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProducerFenced):
        await worker.fold(DEALS)
    assert asyncio.get_running_loop().time() - started >= 0.2
    assert worker.redis_writes == [] and worker.fence.drops == 0


async def test_without_a_fence_policy_a_fenced_producer_crashes_the_fold(tmp_path):
    app = fake_app("acks", owned={0, 2, 3})
    worker = Worker(app, tmp_path, with_fence=False)
    with pytest.raises(ProducerFenced):
        await worker.fold(DEALS)
    assert worker.redis_writes == []


async def test_a_fenced_partition_without_a_producer_left_is_dropped_when_it_moved(tmp_path):
    app = fake_app(None, owned={0, 2, 3})
    worker = Worker(app, tmp_path)
    del app.producer._transaction_producers[tid(FENCED)]  # faust stopped it: the partition was revoked

    await worker.fold(DEALS)

    assert worker.redis_writes == [{d for d in DEALS if d != DEALS[FENCED]}]


async def test_the_commit_hook_skips_a_moved_fenced_transaction_and_commits_the_others(tmp_path):
    app = fake_app("commit", owned={0, 2, 3})
    fenced_producer = app.producer._transaction_producers[tid(FENCED)]
    worker = Worker(app, tmp_path)
    await worker.fold(DEALS)
    assert worker.redis_writes == [set(DEALS)]  # the send went through; the fence shows at commit

    await worker.commit()

    assert {p for p in range(PARTITIONS) if worker.in_rocksdb(DEALS[p])} == {0, 2, 3}
    assert fenced_producer.stopped and tid(FENCED) not in app.producer._transaction_producers
    assert worker.store.get(DEALS[FENCED].encode()) is None and worker.fence.drops == 1


async def test_the_commit_hook_re_raises_a_fenced_commit_of_a_partition_still_owned(tmp_path):
    app = fake_app("commit", owned=set(range(PARTITIONS)))
    fenced_producer = app.producer._transaction_producers[tid(FENCED)]
    worker = Worker(app, tmp_path)
    await worker.fold(DEALS)

    with pytest.raises(ProducerFenced):
        await worker.commit()

    assert not fenced_producer.stopped and worker.fence.drops == 0
    assert not worker.in_rocksdb(DEALS[FENCED])  # its aborted states never reach RocksDB


async def test_the_commit_hook_without_a_listener_covers_the_memory_store(tmp_path):
    """With the memory store CommitHooks has no committed store to tell, yet still drops a moved fenced tid."""
    app = fake_app("commit", owned={0, 2, 3})
    fence = FencedTransactions(app, lambda p: p not in app.owned, forget=lambda partitions: 0)
    CommitHooks(app.producer, None, fenced=lambda: fence).install()

    await app.producer.commit_transactions({tid(p): {TP("deal-events", p): 5} for p in range(PARTITIONS)}, "app")
    assert fence.drops == 1
    assert all(app.producer._transaction_producers[tid(p)].committed for p in (0, 2, 3))

    app.owned = set(range(PARTITIONS))
    app.producer._transaction_producers[tid(FENCED)] = FakeTransactionProducer(FENCED, "commit")
    with pytest.raises(ProducerFenced):
        await app.producer.commit_transactions({tid(FENCED): {TP("deal-events", FENCED): 6}}, "app")


async def test_a_producer_faust_replaced_is_not_popped(tmp_path):
    """The partition came back and faust made a new producer: only the fenced one may be stopped."""
    app = fake_app(None, owned={0, 2, 3})
    fenced, fresh = FakeTransactionProducer(FENCED), FakeTransactionProducer(FENCED)
    app.producer._transaction_producers[tid(FENCED)] = fresh
    fence = FencedTransactions(app, lambda p: True, forget=lambda partitions: 0)

    assert await fence.dropped(tid(FENCED), fenced, ProducerFenced(), "at commit")
    assert app.producer._transaction_producers[tid(FENCED)] is fresh and not fresh.stopped
    # Not a fence: never dropped, whatever the partition did.
    assert not await fence.dropped(tid(FENCED), fresh, RuntimeError("broker away"), "at commit")


async def test_a_partition_that_turned_standby_loses_its_producer_at_the_rebalance():
    """faust keeps the producer of a partition now this worker's standby; reused later, it is fenced."""
    stopped: list[str] = []
    faust_calls: list = []
    producers = {tid(p): FakeTransactionProducer(p) for p in range(PARTITIONS)}

    async def stop_transaction(transactional_id):
        stopped.append(transactional_id)
        producers.pop(transactional_id)

    actives = {TP("deal-events", 2), TP("deal-events", 3), TP(CHANGELOG, 2), TP(CHANGELOG, 3)}
    app = SimpleNamespace(
        conf=SimpleNamespace(id="app"),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0, assigned_actives=lambda: actives),
        producer=SimpleNamespace(_transaction_producers=producers, stop_transaction=stop_transaction),
    )

    async def faust_on_rebalance(assigned, revoked, newly_assigned):
        faust_calls.append((assigned, revoked, newly_assigned))  # faust stops revoked non-standby partitions only

    transactions = SimpleNamespace(on_rebalance=faust_on_rebalance)
    StopInactiveProducers(transactions, app).install()
    await transactions.on_rebalance({"assigned"}, {"revoked"}, set())

    assert faust_calls == [({"assigned"}, {"revoked"}, set())]  # faust's own handler still runs, first
    assert stopped == [tid(0), tid(1)]  # partitions 0 and 1 are standbys here now
    assert set(producers) == {tid(2), tid(3)}
