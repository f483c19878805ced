"""Scenario 4, short: Kafka, Redis and the stream clients cut off for 10 s under load (toxiproxy).

Nothing acknowledged is lost, every discount alerts exactly once on the feed, the SSE and
WebSocket streams and the webhook, review answers 503 while Redis is away, and all heals by itself.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.harness import results_path
from tests.chaos.network import ProxiedInfra, network_fault_scenario, network_stack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]


@pytest.fixture
def proxied_infra():
    """The suite's own broker and Redis (PR_CHAOS_* ports) behind a toxiproxy of its own."""
    own = ProxiedInfra.from_env()
    own.start_fresh()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def network_chaos_stack(proxied_infra, tmp_path):
    stack = network_stack(proxied_infra, tmp_path / "logs")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_a_partition_from_kafka_and_redis_loses_nothing_and_every_alert_channel_resumes(
    proxied_infra, network_chaos_stack
):
    stack = network_chaos_stack
    figures = asyncio.run(
        network_fault_scenario(
            proxied_infra,
            stack,
            faults=[("partition", 10)],
            warmup=3,
            between=2,
            load_after=3,
            rate=5,
            heal_timeout=90,
            results=results_path(),
        )
    )
    report = f"{figures}\n" + "\n".join(f"{s.name} log:\n{s.tail(15)}" for s in stack.services)
    assert figures.services_died == [], report
    assert figures.acknowledged > 0 and figures.answered_503 > 0, report  # load ran, and the cut was felt
    assert figures.answered_503_without_retry_after == 0 and figures.unanswered == 0, report
    assert figures.lost == 0 and figures.alerts_missing == 0, report
    assert figures.time_to_heal_s is not None, report  # cards, feed, SSE, WebSocket and webhook all caught up
    assert figures.duplicate_alerts == 0, report
    assert (figures.sse_missing, figures.ws_missing, figures.webhook_missing) == (0, 0, 0), report
    # The cut closed the streams, so they really resumed from their cursor rather than never stopping.
    assert figures.sse_connects >= 2 and figures.ws_connects >= 2, report
    # While Redis was unreachable review said so, quickly: 503, never a 500 or a hang.
    assert figures.review_probes_while_redis_cut > 0 and figures.review_non_503_while_redis_cut == 0, report
    assert figures.review_slowest_while_redis_cut_s < 2.0 + 0.5, report  # PR_REDIS_TIMEOUT is 2 s
