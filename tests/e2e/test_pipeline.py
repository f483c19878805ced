"""End to end: events posted to ingest appear on review's lists, through real Kafka and Redis."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from pipeline_review_client import Client
from pipeline_review_client.api.default import leader_list, manager_list
from pipeline_review_client.models import ErrorBody, ListPage

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

    # The lists are read through the generated client (clients/review-client), as integrators do.
    review = Client(base_url=stack["review"], timeout=httpx.Timeout(30), raise_on_unexpected_status=True)

    def leader_ids(**filters) -> list[str]:
        page = leader_list.sync(client=review, **filters)
        assert isinstance(page, ListPage), page
        return [item["deal_id"] for item in page.items]

    assert wait_until(
        lambda: ids if len(ids := leader_ids()) == 2 else None, timeout=15, what="both early deals on the leader list"
    ) == ["api:lead-1", "api:lead-2"]
    manager = manager_list.sync(client=review)
    assert isinstance(manager, ListPage)
    assert [i["deal_id"] for i in manager.items] == ["api:must-win"]
    assert manager.next_cursor is None and isinstance(manager.as_of, dt.datetime)
    item = manager.items[0]
    assert item["score"] == 250_000 and item["phase"] == "late" and item["questions"]

    east = leader_list.sync(client=review, team="East")
    assert [i["deal_id"] for i in east.items] == ["api:lead-1"]
    assert east.items[0]["score_parts"]["potential_value"] == 500_000

    # Paging with the opaque cursor: one deal per page, in rank order, then the end.
    first = leader_list.sync(client=review, limit=1)
    second = leader_list.sync(client=review, limit=1, cursor=first.next_cursor)
    assert [first.items[0]["deal_id"], second.items[0]["deal_id"]] == ["api:lead-1", "api:lead-2"]
    assert second.next_cursor is None

    # A refusal comes back typed, in the one error model.
    refused = leader_list.sync_detailed(client=review, cursor="nonsense")
    assert refused.status_code == 422 and isinstance(refused.parsed, ErrorBody)
    assert [e.field for e in refused.parsed.errors] == ["query.cursor"]

    # A stage move is reflected: the big early deal is won and leaves the leader list.
    won = canonical("api:lead-1", "deal.closed_won", 5, stage="Closed Won")
    assert httpx.post(f"{stack['ingest']}/v1/events", json=won, timeout=30).status_code == 202
    assert wait_until(lambda: leader_ids() == ["api:lead-2"], timeout=15, what="the won deal leaving the leader list")


def test_bad_input_gets_a_4xx_naming_the_field(stack):
    bad = canonical("api:x", "deal.created", 0, amount="lots")
    answer = httpx.post(f"{stack['ingest']}/v1/events", json=bad)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("event.changes.amount:")
    assert httpx.post(f"{stack['ingest']}/v1/events", content=b"{not json").status_code == 400
    assert httpx.get(f"{stack['review']}/v1/lists/leader", params={"limit": 501}).status_code == 422
    # A cursor that does not match the documented pattern is a 422 naming it, like any bad parameter.
    bad_cursor = httpx.get(f"{stack['review']}/v1/lists/leader", params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "query.cursor"


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
