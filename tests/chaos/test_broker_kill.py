"""Scenario 1, short: the broker is killed (-9) under load and restarted; nothing acknowledged is lost."""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.harness import broker_kill_scenario, results_path

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]


def test_broker_killed_under_load_loses_nothing_acknowledged_and_heals_by_itself(infra, chaos_stack):
    figures = asyncio.run(
        broker_kill_scenario(
            infra,
            chaos_stack,
            load_before=2,
            down_for=8,
            load_after=3,
            rate=10,
            heal_timeout=60,
            results=results_path(),
        )
    )
    report = f"{figures}\n" + "\n".join(f"{s.name} log:\n{s.tail(15)}" for s in chaos_stack.services)
    assert figures.services_died == [], report
    assert figures.acknowledged > 0 and figures.answered_503 > 0, report  # load ran, and the outage was felt
    assert figures.answered_503_without_retry_after == 0, report
    assert figures.lost == 0, report
    assert figures.alerts_missing == 0 and figures.duplicate_alerts == 0, report
    assert figures.time_to_accept_again_s is not None and figures.time_to_heal_s is not None, report
    # Memory stays bounded while Kafka is away (a leak of producers or buffered records would show).
    assert figures.ingest_rss_mb_peak < figures.ingest_rss_mb_before + 150, report
    # Never a hang: every request was answered within ingest's timeout and some slack.
    assert figures.unanswered == 0 and figures.slowest_answer_s < chaos_stack.ingest_timeout + 3, report
