"""Movement alerts worded for their reader, on webhooks and chat (and filtered by kind)."""

import pytest

from services.review.alert_text import sentence
from services.review.webhooks.rules import WebhookFilter, slack_body

pytestmark = pytest.mark.unit

PUSHED = {
    "kind": "close_date_pushed",
    "deal_id": "api:a",
    "name": "Acme <renewal>",
    "amount": 150000,
    "currency": "EUR",
    "from_close_date": "2026-12-15",
    "to_close_date": "2027-02-10",
    "push_count": 2,
    "stage": "Value Proposition",
    "phase": "mid",
    "team": "East",
    "severity": "high",
}
GAP = {
    "kind": "qualification_gap",
    "deal_id": "api:b",
    "name": "Beta",
    "stage": "Negotiation/Review",
    "missing": ["economic_buyer", "champion"],
    "amount": 80000,
}
STALLED = {
    "kind": "stalled",
    "deal_id": "api:c",
    "name": "Gamma",
    "stage": "Prospecting",
    "days_in_stage": 20,
    "stall_days": 14.0,
    "potential_value": 500000,
    "currency": "USD",
}


def test_each_movement_kind_reads_as_a_sentence():
    assert sentence(PUSHED) == (
        "Closing date of Acme <renewal> pushed from 2026-12-15 to 2027-02-10 "
        "(150,000 EUR this quarter, pushed 2 times so far)"
    )
    assert (
        sentence(GAP) == "Beta entered Negotiation/Review (late) with the economic buyer and champion unknown (80,000)"
    )
    assert sentence(STALLED) == (
        "Gamma has stayed in Prospecting for 20 days, past its 14-day limit (500,000 USD of potential value)"
    )


def test_slack_body_of_a_movement_alert_is_escaped_and_titled():
    body = slack_body(PUSHED)
    assert body["text"].startswith(":calendar: Closing date pushed: Closing date of Acme &lt;renewal&gt;")
    assert body["blocks"][0]["text"]["text"] == "Closing date pushed"
    assert "<renewal>" not in str(body)
    assert slack_body(STALLED)["blocks"][0]["text"]["text"] == "Early deal stalled"


def test_subscriptions_take_the_movement_kinds_only_when_asked():
    assert not WebhookFilter().matches(STALLED)  # the default stays late-stage discounts
    assert WebhookFilter(kinds=["stalled", "close_date_pushed"]).matches(STALLED)
    assert WebhookFilter(kinds=["close_date_pushed"], min_severity="high").matches(PUSHED)
    with pytest.raises(ValueError):
        WebhookFilter(kinds=["slipped"])
