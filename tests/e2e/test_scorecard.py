"""End to end: deals through ingest, managers' actions through review, the scorecard read back from review."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
import pytest

from tests.helpers import wait_until

from .conftest import running_stack

pytestmark = pytest.mark.e2e

KEYS = json.dumps(
    [
        {"key": "e2e-admin-key", "role": "admin", "name": "ceo"},
        {"key": "e2e-east-key1", "role": "manager", "teams": ["East"], "name": "ana"},
    ]
)
ADMIN, ANA = {"X-API-Key": "e2e-admin-key"}, {"X-API-Key": "e2e-east-key1"}


def canonical(deal_id: str, type: str, when: dt.datetime, **changes) -> dict:
    return {
        "event_id": f"{deal_id}-{type}-{uuid.uuid4().hex[:6]}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": when.isoformat(),
        "type": type,
        "changes": changes,
    }


def test_actions_logged_through_review_give_the_expected_scorecard(stack_settings, tmp_path):
    hour_ago = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    early, late = "api:sc-early", "api:sc-late"
    deals = [
        canonical(
            early,
            "deal.created",
            hour_ago,
            name="Early",
            team="East",
            stage="Prospecting",
            amount=50_000,
            potential_value=200_000,
        ),
        canonical(
            late,
            "deal.created",
            hour_ago,
            name="Late",
            team="East",
            stage="Negotiation/Review",
            amount=100_000,
            qualification={"economic_buyer": "known", "champion": "known"},
        ),
        canonical(
            late, "deal.discount_requested", hour_ago + dt.timedelta(minutes=5), discount_pct=10, requested_by="rep"
        ),
    ]
    with (
        running_stack(stack_settings, tmp_path, review_env={"PR_REVIEW_API_KEYS": KEYS}) as urls,
        httpx.Client(timeout=30) as client,
    ):
        review, ingest = urls["review"], urls["ingest"]
        assert client.post(f"{ingest}/v1/events", json=deals).status_code == 202
        alert = wait_until(
            lambda: next(
                iter(
                    client.get(f"{review}/v1/alerts", headers=ADMIN, params={"kind": "late_stage_discount"}).json()[
                        "items"
                    ]
                ),
                None,
            ),
            timeout=30,
            what="the late-stage discount alert",
        )
        wait_until(
            lambda: client.get(f"{review}/v1/deals/{early}", headers=ANA).status_code == 200,
            timeout=30,
            what="the early deal's card",
        )

        assert (
            client.post(
                f"{review}/v1/deals/{early}/reviews", headers=ANA, json={"questions": ["Who is the economic buyer?"]}
            ).status_code
            == 202
        )
        assert client.post(f"{review}/v1/deals/{early}/help", headers=ANA, json={"kind": "access"}).status_code == 202
        decided = client.post(
            f"{review}/v1/alerts/{alert['alert_id']}/decision",
            headers=ANA,
            json={"decision": "approved", "note": "keeps the renewal"},
        )
        assert decided.status_code == 202, decided.text
        assert client.post(f"{review}/v1/deals/{late}/reviews", headers=ADMIN, json={}).status_code == 202
        # The deal is won after the decision (ingest's clock: now).
        won = canonical(late, "deal.closed_won", dt.datetime.now(dt.UTC), stage="Closed Won")
        assert client.post(f"{ingest}/v1/events", json=won).status_code == 202

        def ana_scored():
            answer = client.get(f"{review}/v1/scorecards/ana", headers=ADMIN)
            if answer.status_code != 200 or answer.json()["late_discount_intensity_parts"]["won"]["count"] != 1:
                return None
            return answer.json()

        ana = wait_until(ana_scored, timeout=30, what="ana's scorecard with the won deal")
        # review + help on the early deal (potential 200k each), the decision on the late one (100k).
        assert ana["leader_share_parts"]["touched"] == {"count": 3, "value": 500_000}
        assert ana["leader_share_parts"]["early"] == {"count": 2, "value": 400_000}
        assert ana["leader_share"] == 0.8
        assert ana["early_touch_parts"] == {"closed_touched": 1, "first_touched_early": 0}
        assert ana["late_discounts"] == {"count": 1, "value": 10_000}
        assert ana["late_discount_intensity"] == 0.1  # 10k given per 100k won
        assert ana["verdict"] == "mixed"  # early attention, but above the 2 % discount line
        assert ana["help"]["access"]["offered"] == 1
        assert ana["actions"] == {"reviews": 1, "help": 1, "decisions": 1}

        page = client.get(f"{review}/v1/scorecards", headers=ADMIN).json()
        assert [item["actor"] for item in page["items"]] == ["ana", "ceo"]
        ceo = page["items"][1]
        assert ceo["leader_share"] == 0.0 and ceo["late_discounts"] == {"count": 0, "value": 0}

        card = client.get(f"{review}/v1/deals/{late}", headers=ADMIN).json()
        assert card["discount"]["decision"] == "approved" and card["discount"]["decided_by"] == "ana"
        assert [e["action"]["by"] for e in card["timeline"] if "action" in e] == ["ana", "ceo"]
        shown = client.get(f"{review}/v1/alerts", headers=ADMIN, params={"kind": "late_stage_discount"}).json()
        assert shown["items"][0]["decision"]["decision"] == "approved"
