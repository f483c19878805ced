"""End to end: a discount requested on a late-stage deal reaches review's SSE stream within seconds."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e


def canonical(deal_id: str, type: str, minutes: int, **changes) -> dict:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1) + dt.timedelta(minutes=minutes)
    return {
        "event_id": f"{deal_id}-{minutes}-{type}-{uuid.uuid4().hex[:6]}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": when.isoformat(),
        "type": type,
        "changes": changes,
    }


def test_late_stage_discount_reaches_the_sse_stream_within_seconds(stack):
    review, ingest = stack["review"], stack["ingest"]
    created = canonical(
        "api:big-renewal",
        "deal.created",
        0,
        name="Big renewal",
        account="Acme",
        owner_id="u1",
        team="East",
        manager_id="m1",
        stage="Negotiation/Review",
        amount=200_000,
        currency="EUR",
    )
    discount = canonical(
        "api:big-renewal",
        "deal.discount_requested",
        5,
        discount_pct=15,
        discount_reason="competitor",
        requested_by="u1",
    )
    with httpx.Client(timeout=30) as client:
        # The deal enters late with no economic buyer or champion known: its qualification_gap
        # alert is on the feed too, so this test follows the discount kind.
        only = {"kind": "late_stage_discount"}
        with client.stream("GET", f"{review}/v1/alerts/stream", params={"cursor": "0"} | only) as stream:
            assert stream.status_code == 200
            posted_at = time.monotonic()
            assert client.post(f"{ingest}/v1/events", json=[created]).status_code == 202
            assert client.post(f"{ingest}/v1/events", json=discount).status_code == 202
            # Delivery is at-least-once from ingest onwards: posting the same request again changes nothing.
            assert client.post(f"{ingest}/v1/events", json=discount).status_code == 202
            event: dict[str, str] = {}
            for line in stream.iter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    name, _, value = line.partition(": ")
                    event[name] = value
                elif line == "" and "data" in event:
                    break
            elapsed = time.monotonic() - posted_at
        alert = json.loads(event["data"])
        assert event["event"] == "alert" and event["id"] == alert["cursor"]
        assert alert["kind"] == "late_stage_discount" and alert["deal_id"] == "api:big-renewal"
        assert alert["value_at_risk"] == 30_000 and alert["discount_pct"] == 15 and alert["requested_by"] == "u1"
        assert elapsed < 15, f"alert took {elapsed:.1f}s"
        feed = client.get(f"{review}/v1/alerts", params=only).json()
        assert [i["alert_id"] for i in feed["items"]] == [alert["alert_id"]]
