"""Pipeline movement end to end: events posted to ingest, alerts, flow and stalled list read from review.

Each alert kind and each bucket of the quarter's flow comes from the events behind it; one
deal stalls while the stack runs, with no event after the one that put it in its stage.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
import pytest

from services.domain.quarters import quarter_bounds, quarter_of
from tests.e2e.conftest import running_stack
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e
STALLS_IN = 10  # s after the post, the "soon" deal stalls


def canonical(deal_id: str, type: str, when: dt.datetime, **changes) -> dict:
    return {
        "event_id": f"{deal_id}-{type}-{uuid.uuid4().hex[:8]}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": when.isoformat(),
        "type": type,
        "changes": changes,
    }


def flow_events(now: dt.datetime) -> list[dict]:
    """One deal per bucket (team Flow); see docs/movement.md for the definitions."""
    first, last = quarter_bounds(quarter_of(now.date()))
    before = dt.datetime.combine(first, dt.time(), dt.UTC) - dt.timedelta(days=5)
    mid = dt.datetime.combine(first, dt.time(), dt.UTC) + (now - dt.datetime.combine(first, dt.time(), dt.UTC)) / 2
    inside, later = last.isoformat(), (last + dt.timedelta(days=40)).isoformat()

    def deal(key, amount, close, when=before):
        return canonical(
            f"api:flow-{key}",
            "deal.created",
            when,
            name=f"Flow {key}",
            team="Flow",
            owner_id="u-flow",
            stage="Value Proposition",
            amount=amount,
            close_date=close,
            currency="USD",
        )

    return [
        deal("grown", 100_000, inside),
        canonical("api:flow-grown", "deal.updated", mid, amount=130_000),
        deal("pushed", 50_000, inside),
        canonical("api:flow-pushed", "deal.updated", mid, close_date=later),
        deal("won", 40_000, inside),
        canonical("api:flow-won", "deal.closed_won", mid),
        deal("lost", 30_000, inside),
        canonical("api:flow-lost", "deal.closed_lost", mid),
        deal("new", 20_000, inside, when=mid),
        deal("pulled", 60_000, later),
        canonical("api:flow-pulled", "deal.updated", mid, close_date=inside),
        deal("shrunk", 80_000, inside),
        canonical("api:flow-shrunk", "deal.updated", mid, amount=70_000),
    ]


def movement_events(now: dt.datetime) -> list[dict]:
    """A qualification gap, a deal stalled when folded, a deal about to stall (team Move)."""
    common = {"team": "Move", "owner_id": "u-move", "currency": "USD", "close_date": "2031-06-30"}
    return [
        canonical(
            "api:move-gap",
            "deal.created",
            now - dt.timedelta(hours=2),
            name="Gap",
            stage="Needs Analysis",
            amount=90_000,
            **common,
        ),
        canonical("api:move-gap", "deal.stage_changed", now - dt.timedelta(hours=1), stage="Negotiation/Review"),
        canonical(
            "api:move-old",
            "deal.created",
            now - dt.timedelta(days=20),
            name="Old",
            stage="Prospecting",
            amount=10_000,
            potential_value=800_000,
            **common,
        ),
        canonical(
            "api:move-soon",
            "deal.created",
            now - dt.timedelta(days=14) + dt.timedelta(seconds=STALLS_IN),
            name="Soon",
            stage="Prospecting",
            amount=10_000,
            potential_value=400_000,
            **common,
        ),
    ]


def test_each_alert_kind_and_bucket_comes_back_from_review(common_settings, tmp_path):
    with (
        running_stack(common_settings, tmp_path, scoring_extra={"PR_SCORING_STALL_CHECK_INTERVAL": "1"}) as stack,
        httpx.Client(timeout=30) as client,
    ):
        review = stack["review"]
        now = dt.datetime.now(dt.UTC)
        due = now.timestamp() + STALLS_IN
        posted = client.post(f"{stack['ingest']}/v1/events", json=flow_events(now) + movement_events(now))
        assert posted.status_code == 202, posted.text

        def alerts(kind: str) -> dict[str, dict]:
            items = client.get(f"{review}/v1/alerts", params={"kind": kind, "limit": 500}).json()["items"]
            return {item["deal_id"]: item for item in items}

        pushed = wait_until(lambda: alerts("close_date_pushed"), timeout=60, what="the close_date_pushed alert")
        assert set(pushed) == {"api:flow-pushed"}
        assert pushed["api:flow-pushed"]["to_close_date"] > pushed["api:flow-pushed"]["from_close_date"]
        gap = wait_until(lambda: alerts("qualification_gap"), timeout=30, what="the qualification_gap alert")
        assert gap["api:move-gap"]["missing"] == ["economic_buyer", "champion"]
        stalled = wait_until(
            lambda: (found := alerts("stalled")) and {"api:move-old", "api:move-soon"} <= set(found) and found,
            timeout=60,
            what="both stalled alerts",
        )
        assert time.time() >= due  # "soon" was raised by the passage of time
        assert stalled["api:move-old"]["days_in_stage"] == 20

        flow = wait_until(
            lambda: (
                (answer := client.get(f"{review}/v1/pipeline/flow", params={"team": "Flow"}).json())
                and answer["buckets"]["end"]["count"] == 4
                and answer
            ),
            timeout=30,
            what="the flow",
        )
        assert {name: bucket["amount"] for name, bucket in flow["buckets"].items()} == {
            "start": 300_000,
            "new": 20_000,
            "pulled_in": 60_000,
            "pushed_out": 50_000,
            "increased": 30_000,
            "decreased": 10_000,
            "won": 40_000,
            "lost": 30_000,
            "end": 280_000,
        }
        assert flow["reconciles"] is True
        for bucket, deal in [
            ("pushed_out", "api:flow-pushed"),
            ("pulled_in", "api:flow-pulled"),
            ("new", "api:flow-new"),
            ("won", "api:flow-won"),
            ("lost", "api:flow-lost"),
        ]:
            page = client.get(f"{review}/v1/pipeline/flow", params={"team": "Flow", "bucket": bucket}).json()
            assert [item["deal_id"] for item in page["items"]] == [deal], bucket

        listed = wait_until(
            lambda: (
                [
                    i["deal_id"]
                    for i in client.get(f"{review}/v1/lists/stalled", params={"team": "Move"}).json()["items"]
                ]
                == ["api:move-old", "api:move-soon"]
            ),
            timeout=20,
            what="the stalled list",
        )
        assert listed
        card = client.get(f"{review}/v1/deals/api:flow-pushed").json()
        assert card["push_count"] == 1 and isinstance(card["days_in_stage"], int)
