"""ForgetMovedPartitions: a rebalance drops the deal states of the partitions that moved."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.types import TP

from services.scoring.changelog import partition_for
from services.scoring.faust_compat import ForgetMovedPartitions
from services.scoring.moved_partitions import drop_partitions

pytestmark = pytest.mark.unit

PARTITIONS = 4
CHANGELOG = "pr-scoring-deals-changelog"
EVENTS = "deal-events"


def deal_keys() -> dict[int, list[bytes]]:
    """Deal ids by partition, several in each."""
    by_partition: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for n in range(200):
        key = f"deal-{n}".encode()
        by_partition[partition_for(key, PARTITIONS)].append(key)
    assert all(len(keys) >= 5 for keys in by_partition.values())
    return by_partition


class FakeRecovery:
    def __init__(self):
        self.active_offsets = {TP(CHANGELOG, p): 100 + p for p in range(PARTITIONS)}
        self.revoked: list[TP] = []

    def revoke(self, tp):
        self.revoked.append(tp)
        self.active_offsets.pop(tp, None)


def setup():
    keys = deal_keys()
    store = {key: b"state" for partition_keys in keys.values() for key in partition_keys}
    calls = []

    async def faust_on_rebalance(assigned, revoked, newly_assigned, generation_id=0):
        calls.append((set(store), generation_id))  # what the store held when faust's handler ran

    table = SimpleNamespace(
        data=store, on_rebalance=faust_on_rebalance, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG)
    )
    recovery = FakeRecovery()
    app = SimpleNamespace(tables=SimpleNamespace(recovery=recovery))
    ForgetMovedPartitions(app, table, EVENTS, lambda moved: drop_partitions(store, moved, PARTITIONS)).install()
    return keys, store, table, recovery, calls


def test_drop_partitions_removes_exactly_those_partitions_keys():
    keys = deal_keys()
    store = {key: b"s" for partition_keys in keys.values() for key in partition_keys}
    dropped = drop_partitions(store, {1, 3}, PARTITIONS)
    assert dropped == len(keys[1]) + len(keys[3])
    assert set(store) == set(keys[0]) | set(keys[2])


async def test_revoked_and_newly_assigned_partitions_are_forgotten_before_faust_recovers_them():
    keys, store, table, recovery, calls = setup()
    kept = {TP(EVENTS, 0), TP(CHANGELOG, 0)}
    revoked = {TP(EVENTS, 1), TP(CHANGELOG, 1)}
    newly = {TP(EVENTS, 2), TP(CHANGELOG, 2)}
    await table.on_rebalance(kept | newly, revoked, newly, 7)
    # Kept partitions (0) and untouched ones (3) keep their states; moved ones (1, 2) are gone.
    assert set(store) == set(keys[0]) | set(keys[3])
    # Recovery restarts the moved changelog partitions from the beginning, the kept one goes on.
    assert set(recovery.revoked) == {TP(CHANGELOG, 1), TP(CHANGELOG, 2)}
    assert recovery.active_offsets == {TP(CHANGELOG, 0): 100, TP(CHANGELOG, 3): 103}
    # faust's own handler still runs, after the drop, with the same generation.
    assert calls == [(set(keys[0]) | set(keys[3]), 7)]


async def test_a_rebalance_that_moves_nothing_keeps_every_state():
    keys, store, table, recovery, calls = setup()
    everything = {TP(topic, p) for topic in (EVENTS, CHANGELOG) for p in range(PARTITIONS)}
    await table.on_rebalance(everything, set(), set(), 3)
    assert len(store) == sum(len(k) for k in keys.values())
    assert recovery.revoked == []
    assert len(calls) == 1


async def test_other_topics_partitions_do_not_count_as_moved():
    keys, store, table, recovery, _calls = setup()
    await table.on_rebalance(set(), {TP("some-other-topic", 1)}, {TP("pr-assignor-leader", 2)}, 1)
    assert len(store) == sum(len(k) for k in keys.values())
    assert recovery.revoked == []
