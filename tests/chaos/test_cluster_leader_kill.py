"""Scenario 2, short: the broker leading deal-events is killed (-9) on a three-node cluster; nothing acknowledged is lost.

Not in `make test` (three JVMs; marked `cluster`, deselected by default): run it with
`.venv/bin/python -m pytest -m cluster tests/chaos`, the long version with `make chaos`.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos.cluster import cluster_leader_kill_scenario
from tests.chaos.harness import results_path

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.timeout(400)]


def test_killing_the_deal_events_leader_loses_nothing_and_ingest_keeps_accepting(cluster_infra, cluster_stack):
    topic = cluster_stack.settings.deal_events_topic
    before = cluster_infra.partition_leaders(topic)

    figures = asyncio.run(
        cluster_leader_kill_scenario(
            cluster_infra,
            cluster_stack,
            load_before=3,
            down_for=12,
            load_after=3,
            rate=10,
            heal_timeout=90,
            results=results_path(),
        )
    )

    report = f"{figures}\n" + "\n".join(f"{s.name} log:\n{s.tail(15)}" for s in cluster_stack.services)
    assert figures.services_died == [], report
    assert figures.lost == 0, report
    assert figures.alerts_missing == 0 and figures.duplicate_alerts == 0, report
    assert figures.time_to_heal_s is not None, report
    # Two replicas of three are enough for acks=all: ingest acknowledged events while the node was down,
    # and never went longer than the failover (the controller's 9 s broker session) plus its deadline without one.
    assert figures.acknowledged_during_fault > 0, report
    assert figures.longest_without_2xx_s < 9 + cluster_stack.ingest_timeout + 5, report
    assert figures.answered_503_without_retry_after == 0, report
    # Every request was answered (within the load generator's 30 s). Not bounded by ingest's deadline
    # here: on two loaded cores with three JVMs, runs saw answers of 6.75 s and 9.79 s with a 3 s
    # deadline (docs/reliability.md, scenario 2), an open question for ingest, not a loss.
    assert figures.unanswered == 0, report
    # The restarted node caught up: every partition has a leader and all three replicas in sync again.
    deadline = time.monotonic() + 60
    while (after := cluster_infra.partitions(topic)) and any(isr != [1, 2, 3] for _leader, isr in after.values()):
        assert time.monotonic() < deadline, f"replicas not back in sync: {after}\n{report}"
        time.sleep(1)
    assert sorted(after) == sorted(before) and all(leader in (1, 2, 3) for leader, _isr in after.values()), report
