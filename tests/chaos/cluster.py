"""Scenario 2 of issue 13: a three-node KRaft cluster loses the broker leading deal-events.

Topics have 3 replicas with min.insync.replicas 2 and every producer uses acks=all, so an
event ingest acknowledged is on two nodes at least: killing one node (-9) must lose nothing,
and ingest must keep accepting once the partitions it led have new leaders. The node is then
brought back the way an operator would (``deploy/kafka.sh start``, which starts only the
nodes that are not running) and must catch up without anyone touching a service.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path

from tests.chaos.harness import Figures, Infra, LoadGenerator, Stack, accepted_since, measure, sample_rss, settle


async def cluster_leader_kill_scenario(
    infra: Infra,
    stack: Stack,
    *,
    load_before: float,
    down_for: float,
    load_after: float,
    rate: float,
    heal_timeout: float,
    results: Path,
) -> Figures:
    """kill -9 the node leading most deal-events partitions under load, restart it ``down_for`` s later.

    The load goes on for ``load_after`` seconds after the node is back.
    """
    if infra.nodes < 3:
        raise ValueError(f"the leader-kill scenario needs a cluster of 3 nodes or more, not {infra.nodes}")
    run_tag = f"cls{uuid.uuid4().hex[:6]}"
    load = LoadGenerator(stack.url("ingest"), rate, run_tag)
    pids_before = stack.pids()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_task = asyncio.create_task(load.run())
    t0 = time.monotonic()
    await asyncio.sleep(load_before)
    # Chosen under load, just before the kill: leadership may have moved since the topic was made.
    leader = await asyncio.to_thread(infra.busiest_leader, stack.settings.deal_events_topic)
    rss_before = stack.rss_mb("ingest")
    samples: list[float] = []
    sampler = asyncio.create_task(sample_rss(stack, "ingest", samples))
    await asyncio.to_thread(infra.kill_node, leader)
    killed_at = time.monotonic()
    await asyncio.sleep(down_for)
    await asyncio.to_thread(infra.start_kafka)  # deploy/kafka.sh start: brings back the node that is down
    repaired_at = time.monotonic()
    await accepted_since(load, repaired_at, heal_timeout)
    await asyncio.sleep(load_after)
    load.stop()
    await load_task
    load_seconds = time.monotonic() - t0
    settled = await settle(stack, load, repaired_at, heal_timeout)
    sampler.cancel()
    figures = measure(
        f"cluster of 3: kill -9 the deal-events leader (node {leader}) and restart it",
        stack,
        load,
        run_tag,
        started_at=started_at,
        load_seconds=load_seconds,
        killed_at=killed_at,
        repaired_at=repaired_at,
        settled=settled,
        pids_before=pids_before,
        rss_before=rss_before,
        rss_samples=samples,
    )
    figures.write(results)
    return figures
