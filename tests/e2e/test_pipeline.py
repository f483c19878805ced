"""End to end: events posted to ingest appear on review's lists, through real Kafka and Redis."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from testkit.processes import Service, free_port
from tests.conftest import settings_env
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


def canonical(deal_id, type, minutes, **changes):
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1) + dt.timedelta(minutes=minutes)
    return {
        "event_id": f"{deal_id}-{minutes}-{type}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": when.isoformat(),
        "type": type,
        "changes": changes,
    }


def this_quarter_day() -> str:
    return dt.date.today().isoformat()


def test_posted_events_reach_both_lists_within_seconds(stack):
    events = [
        canonical(
            "api:lead-1",
            "deal.created",
            0,
            name="Big early",
            account="Acme",
            owner_id="u1",
            team="East",
            stage="Prospecting",
            amount=500_000,
            close_date="2031-01-31",
        ),
        canonical(
            "api:lead-2",
            "deal.created",
            0,
            name="Small early",
            account="Beta",
            owner_id="u2",
            team="West",
            stage="Qualification",
            amount=50_000,
            qualification={"economic_buyer": "known"},
        ),
        canonical(
            "api:must-win",
            "deal.created",
            0,
            name="Must win",
            account="Gamma",
            owner_id="u1",
            team="East",
            stage="Negotiation/Review",
            amount=250_000,
            close_date=this_quarter_day(),
        ),
    ]
    answer = httpx.post(f"{stack['ingest']}/v1/events", json=events, timeout=30)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 3

    def leader_ids():
        items = httpx.get(f"{stack['review']}/v1/lists/leader").json()["items"]
        return [i["deal_id"] for i in items] if len(items) == 2 else None

    assert wait_until(leader_ids, timeout=15, what="both early deals on the leader list") == [
        "api:lead-1",
        "api:lead-2",
    ]
    manager = httpx.get(f"{stack['review']}/v1/lists/manager").json()
    assert [i["deal_id"] for i in manager["items"]] == ["api:must-win"]
    assert manager["next_cursor"] is None and manager["as_of"]
    item = manager["items"][0]
    assert item["score"] == 250_000 and item["phase"] == "late" and item["questions"]

    east = httpx.get(f"{stack['review']}/v1/lists/leader", params={"team": "East"}).json()["items"]
    assert [i["deal_id"] for i in east] == ["api:lead-1"]
    assert east[0]["score_parts"]["potential_value"] == 500_000

    # A stage move is reflected: the big early deal is won and leaves the leader list.
    won = canonical("api:lead-1", "deal.closed_won", 5, stage="Closed Won")
    assert httpx.post(f"{stack['ingest']}/v1/events", json=won, timeout=30).status_code == 202
    assert wait_until(
        lambda: (
            [i["deal_id"] for i in httpx.get(f"{stack['review']}/v1/lists/leader").json()["items"]] == ["api:lead-2"]
        ),
        timeout=15,
        what="the won deal leaving the leader list",
    )


def test_bad_input_gets_a_4xx_naming_the_field(stack):
    bad = canonical("api:x", "deal.created", 0, amount="lots")
    answer = httpx.post(f"{stack['ingest']}/v1/events", json=bad)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("event.changes.amount:")
    assert httpx.post(f"{stack['ingest']}/v1/events", content=b"{not json").status_code == 400
    assert httpx.get(f"{stack['review']}/v1/lists/leader", params={"limit": 501}).status_code == 422
    assert httpx.get(f"{stack['review']}/v1/lists/leader", params={"cursor": "nonsense"}).status_code == 400


def test_ingest_answers_503_when_kafka_is_unreachable(tmp_path, common_settings):
    port = free_port()
    env = settings_env(common_settings) | {
        "PR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "PR_INGEST_PORT": str(port),
        "PR_INGEST_KAFKA_TIMEOUT": "2",
    }
    ingest = Service("ingest", env, f"http://127.0.0.1:{port}/healthz", tmp_path).start()
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30).status_code == 503
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/events", json=canonical("api:y", "deal.created", 0), timeout=30
        )
        assert answer.status_code == 503
        assert "nothing was accepted" in answer.json()["detail"]
    finally:
        ingest.stop()
