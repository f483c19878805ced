"""The scorecard figures on hand-computed cases (docs/scorecard.md gives the definitions)."""

import datetime as dt

import pytest
from pydantic import ValidationError

from services.domain.lists import place
from services.domain.scorecard import Thresholds, scorecards, state_facts, verdict
from services.domain.state import fold
from services.shared.events import decode_event, encode_event
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import T0, action, event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
DAY = 24 * 60  # minutes
ALERT = "al-" + "0" * 20


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def facts_of(*deals):
    """Each deal's events folded, then its facts for 2026Q4 (T0 is in 2026Q4)."""
    out = []
    for events in deals:
        state = fold(events, STAGES)
        facts = state_facts(state, STAGES)
        if "2026Q4" in facts:
            out.append(facts["2026Q4"])
    return out


def three_deals():
    """ana works early deals; bob works late ones and approves a discount (hand-computed below)."""
    d1 = [
        event(
            "api:d1", "deal.created", at=0, stage="Prospecting", amount=100_000, potential_value=400_000, team="East"
        ),
        action("api:d1", at=1 * DAY, by="ana", questions=["Who signs?"]),
        action("api:d1", "deal.help_offered", at=2 * DAY, by="ana", kind="access"),
        event("api:d1", at=10 * DAY, qualification={"economic_buyer": "known"}),
        # A later stage change does not rewrite what ana's actions touched.
        event("api:d1", "deal.stage_changed", at=30 * DAY, stage="Negotiation/Review"),
    ]
    d2 = [
        event("api:d2", "deal.created", at=0, stage="Negotiation/Review", amount=200_000, team="East"),
        action("api:d2", at=1 * DAY, by="bob"),
        event("api:d2", "deal.discount_requested", at=2 * DAY, discount_pct=10, requested_by="rep"),
        action(
            "api:d2",
            "deal.discount_decided",
            at=3 * DAY,
            by="bob",
            alert_id=ALERT,
            decision="approved",
            discount_pct=10,
            requested_pct=10,
        ),
        event("api:d2", "deal.closed_won", at=5 * DAY, stage="Closed Won"),
    ]
    d3 = [
        event("api:d3", "deal.created", at=0, stage="Prospecting", amount=50_000, team="West"),
        action("api:d3", at=1 * DAY, by="ana"),
        event("api:d3", "deal.stage_changed", at=14 * DAY, stage="Negotiation/Review"),
        action("api:d3", at=15 * DAY, by="bob"),
        event("api:d3", "deal.closed_won", at=20 * DAY, stage="Closed Won"),
    ]
    return d1, d2, d3


def by_actor(items):
    return {item["actor"]: item for item in items}


def test_leader_share_weighs_each_action_by_the_value_it_touched():
    cards = by_actor(scorecards(facts_of(*three_deals()), "2026Q4", day(40)))
    ana, bob = cards["ana"], cards["bob"]
    # ana: review d1 (early, potential 400k) + help d1 (400k) + review d3 (early, 50k) = 850k, all early.
    assert ana["leader_share_parts"]["touched"] == {"count": 3, "value": 850_000}
    assert ana["leader_share_parts"]["early"] == {"count": 3, "value": 850_000}
    assert ana["leader_share"] == 1.0
    # bob: review d2 (late, 200k) + decision d2 (200k) + review d3 (late by then, 50k) = 450k, none early.
    assert bob["leader_share_parts"]["touched"] == {"count": 3, "value": 450_000}
    assert bob["leader_share_parts"]["early"] == {"count": 0, "value": 0}
    assert bob["leader_share"] == 0.0
    assert ana["actions"] == {"reviews": 2, "help": 1, "decisions": 0}
    assert bob["actions"] == {"reviews": 2, "help": 0, "decisions": 1}


def test_early_touch_share_counts_the_closed_deals_by_their_first_touch():
    cards = by_actor(scorecards(facts_of(*three_deals()), "2026Q4", day(40)))
    # d3 closed won: ana first touched it early, bob late; d2 closed won, bob first touched it late.
    assert cards["ana"]["early_touch_parts"] == {"closed_touched": 1, "first_touched_early": 1}
    assert cards["ana"]["early_touch_share"] == 1.0
    assert cards["bob"]["early_touch_parts"] == {"closed_touched": 2, "first_touched_early": 0}
    assert cards["bob"]["early_touch_share"] == 0.0


def test_late_discounts_and_their_intensity_against_the_won_amount():
    cards = by_actor(scorecards(facts_of(*three_deals()), "2026Q4", day(40)))
    bob = cards["bob"]
    # 200k x 10 % given on a late deal; bob touched d2 (200k) and d3 (50k), both won.
    assert bob["late_discounts"] == {"count": 1, "value": 20_000}
    assert bob["late_discount_intensity_parts"]["won"] == {"count": 2, "amount": 250_000}
    assert bob["late_discount_intensity"] == 0.08
    assert cards["ana"]["late_discounts"] == {"count": 0, "value": 0}
    assert cards["ana"]["late_discount_intensity"] == 0.0  # nothing given, 50k won


def test_the_latest_decision_on_an_alert_stands():
    _d1, d2, _d3 = three_deals()
    d2 = (
        d2[:3]
        + [
            action("api:d2", "deal.discount_decided", at=3 * DAY, by="bob", alert_id=ALERT, decision="rejected"),
            action(
                "api:d2",
                "deal.discount_decided",
                at=4 * DAY,
                by="cy",
                alert_id=ALERT,
                decision="countered",
                discount_pct=5,
                requested_pct=10,
            ),
        ]
        + d2[4:]
    )
    cards = by_actor(scorecards(facts_of(d2), "2026Q4", day(40)))
    assert cards["bob"]["late_discounts"] == {"count": 0, "value": 0}
    assert cards["cy"]["late_discounts"] == {"count": 1, "value": 10_000}  # 200k x 5 %
    # cy touched d2 before it was won: its 200k is cy's won amount.
    assert cards["cy"]["late_discount_intensity"] == 0.05


def test_a_granted_discount_updates_the_deal_and_a_rejected_one_only_records_itself():
    _, d2, _ = three_deals()
    card = place(fold(d2[:4], STAGES), STAGES, day(4)).card
    assert card["discount"]["discount_pct"] == 10
    assert card["discount"]["decision"] == "approved"
    assert card["discount"]["decided_by"] == "bob"
    countered = d2[:3] + [
        action(
            "api:d2",
            "deal.discount_decided",
            at=3 * DAY,
            by="bob",
            alert_id=ALERT,
            decision="countered",
            discount_pct=4,
            requested_pct=10,
        )
    ]
    assert place(fold(countered, STAGES), STAGES, day(4)).card["discount"]["discount_pct"] == 4
    rejected = d2[:3] + [
        action("api:d2", "deal.discount_decided", at=3 * DAY, by="bob", alert_id=ALERT, decision="rejected")
    ]
    card = place(fold(rejected, STAGES), STAGES, day(4)).card
    assert card["discount"]["discount_pct"] == 10  # still the request
    assert card["discount"]["decision"] == "rejected"
    kinds = [entry["type"] for entry in card["timeline"]]
    assert "deal.discount_decided" in kinds
    assert card["timeline"][-1]["action"] == {"by": "bob", "alert_id": ALERT, "decision": "rejected"}


def test_help_counts_items_made_known_within_21_days_against_reviews_without_help():
    cards = by_actor(scorecards(facts_of(*three_deals()), "2026Q4", day(40)))
    access = cards["ana"]["help"]["access"]
    assert access["offered"] == 1
    # economic_buyer known 8 days after the help; champion never (its 21 days are over at day 40).
    assert access["items"] == {"known": 1, "not_known": 1, "pending": 0}
    assert access["known_rate"] == 0.5
    # Baseline: early-phase reviews with no help in the 21 days after: ana's review of d3 (the review
    # of d1 was followed by help). Neither access item of d3 became known.
    assert access["baseline"] == {
        "phases": ["early"],
        "items": {"known": 0, "not_known": 2, "pending": 0},
        "known_rate": 0.0,
    }
    assert access["lift"] == 0.5
    assert cards["ana"]["help"]["qualification"]["offered"] == 0


def test_help_whose_window_is_still_open_is_pending_not_failed():
    d1, _, _ = three_deals()
    facts = []
    state = fold(d1, STAGES)
    facts.append(state_facts(state, STAGES)["2026Q4"])
    access = by_actor(scorecards(facts, "2026Q4", day(12)))["ana"]["help"]["access"]
    assert access["items"] == {"known": 1, "not_known": 0, "pending": 1}
    assert access["known_rate"] == 1.0


def test_verdicts_follow_the_thresholds():
    cards = by_actor(scorecards(facts_of(*three_deals()), "2026Q4", day(40)))
    assert cards["ana"]["verdict"] == "leader"
    assert cards["bob"]["verdict"] == "manager"
    limits = Thresholds(leader_share=0.5, discount_intensity=0.02)
    assert verdict(0.5, 1_000, 100_000, limits) == "leader"  # on both lines
    assert verdict(0.6, 3_000, 100_000, limits) == "mixed"  # early, but gives away 3 %
    assert verdict(0.2, 0, 0, limits) == "mixed"  # late attention, nothing given away
    assert verdict(0.2, 500, 0, limits) == "manager"  # discounts with nothing won
    assert verdict(None, 0, 0, limits) == "mixed"  # no action touched any value
    assert (
        by_actor(scorecards(facts_of(*three_deals()), "2026Q4", day(40), Thresholds(0.5, 0.1)))["bob"]["verdict"]
        == "mixed"
    )


def test_a_deal_closed_in_another_quarter_adds_its_close_there():
    events = [
        event("api:d9", "deal.created", at=0, stage="Prospecting", amount=10, team="East"),
        action("api:d9", at=DAY, by="ana"),
        event("api:d9", "deal.closed_won", at=70 * DAY, stage="Closed Won"),
    ]
    facts = state_facts(fold(events, STAGES), STAGES)
    assert set(facts) == {"2026Q4", "2027Q1"}
    assert "closed" not in facts["2026Q4"] and facts["2027Q1"]["actions"] == []
    assert facts["2027Q1"]["closed"]["first_touch"] == {"ana": "early"}


def test_actions_are_canonical_events_and_round_trip():
    decided = action(
        "api:d2",
        "deal.discount_decided",
        by="bob",
        alert_id=ALERT,
        decision="countered",
        discount_pct=5,
        requested_pct=10,
        note="meet halfway",
    )
    assert decode_event(encode_event(decided)) == decided
    assert fold([decided, decided], STAGES).actions.__len__() == 1  # a duplicate is a no-op


@pytest.mark.parametrize(
    "type_, fields, wrong",
    [
        ("deal.help_offered", {}, "action.kind"),
        ("deal.help_offered", {"kind": "bribe"}, "kind"),
        ("deal.discount_decided", {"decision": "approved", "discount_pct": 5}, "alert_id"),
        ("deal.discount_decided", {"alert_id": ALERT, "decision": "maybe"}, "decision"),
        ("deal.discount_decided", {"alert_id": ALERT, "decision": "countered"}, "discount_pct"),
        ("deal.discount_decided", {"alert_id": ALERT, "decision": "rejected", "discount_pct": 3}, "grants none"),
        ("deal.discount_decided", {"alert_id": "al-../x", "decision": "rejected"}, "alert_id"),
        ("deal.reviewed", {"note": "x" * 501}, "note"),
        ("deal.reviewed", {"questions": ["q"] * 21}, "questions"),
    ],
)
def test_malformed_actions_are_refused(type_, fields, wrong):
    with pytest.raises(ValidationError, match=wrong):
        action(type=type_, **fields)


def test_only_action_types_carry_an_action_and_they_must():
    with pytest.raises(ValidationError, match="only"):
        decode_event(
            {
                "event_id": "e",
                "source": "api",
                "deal_id": "api:x",
                "occurred_at": T0.isoformat(),
                "type": "deal.updated",
                "action": {"by": "ana"},
            }
        )
    with pytest.raises(ValidationError, match="required"):
        decode_event(
            {
                "event_id": "e",
                "source": "api",
                "deal_id": "api:x",
                "occurred_at": T0.isoformat(),
                "type": "deal.reviewed",
            }
        )
    with pytest.raises(ValidationError, match=r"action\.by[\s\S]*should match pattern"):
        action(by="ana\nadmin")


@pytest.mark.parametrize("seed", range(12))
def test_any_arrival_order_gives_the_same_facts(seed):
    """Like every figure of the deal state, the scorecard facts follow the deals' own order (occurred_at),
    not the order of arrival: a CRM event folded after an action but dated before it counts as before."""
    import random

    d1, d2, d3 = three_deals()
    extra = [
        event("api:d1", at=DAY // 2, qualification={"champion": "known"}),
        event("api:d3", at=DAY // 2, amount=70_000),
    ]
    events = d1 + d2 + d3 + extra
    in_order = sorted(events, key=lambda e: e.occurred_at)
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)

    def facts(stream):
        states = {}
        for e in stream:
            states[e.deal_id] = fold([e], STAGES, states.get(e.deal_id))
        return {d: state_facts(s, STAGES) for d, s in states.items()}

    expected = facts(in_order)
    assert facts(shuffled) == expected
    # d3's amount was 70k when ana reviewed it (the update is dated half a day before her review).
    assert [a["amount"] for a in expected["api:d3"]["2026Q4"]["actions"]] == [70_000, 70_000]
    # d1's champion was known before ana's access help: only the economic buyer was a target.
    help_ = next(a for a in expected["api:d1"]["2026Q4"]["actions"] if a["type"] == "deal.help_offered")
    assert set(help_["targets"]) == {"economic_buyer"}
