import datetime as dt

import pytest

from services.domain.alerts import discount_alert
from services.domain.lists import place
from services.domain.state import apply_event
from services.ingest.app import parse_events
from services.ingest.demo import demo_events
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


@pytest.mark.parametrize("today", [dt.date(2026, 11, 26), dt.date(2026, 12, 31), dt.date(2027, 1, 1)])
def test_demo_alerts_raise_late_stage_alerts_on_deals_closing_this_quarter(today):
    events = parse_events(demo_events(today), 100)
    states, kinds = {}, []
    for event in events:
        states[event.deal_id] = apply_event(states.get(event.deal_id), event, STAGES).state
        alert = discount_alert(event, states[event.deal_id], STAGES)
        if alert:
            kinds.append(alert.kind)
    assert kinds.count("late_stage_discount") == 3 and kinds.count("discount_info") == 1
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    assert all(place(s, STAGES).manager_quarter == quarter for s in states.values())


@pytest.mark.parametrize("today", [dt.date(2026, 11, 26), dt.date(2026, 12, 31), dt.date(2027, 1, 1)])
def test_movement_demo_shows_a_push_two_stalls_and_a_qualification_gap(today):
    from services.domain.movement import movement_alerts, stalled_alert
    from services.ingest.demo import movement_demo_events

    events = parse_events(movement_demo_events(today), 100)
    states, kinds = {}, []
    for event in events:
        states[event.deal_id] = apply_event(states.get(event.deal_id), event, STAGES).state
        kinds += [a["kind"] for a in movement_alerts(event, states[event.deal_id], STAGES)]
    now = dt.datetime.combine(today, dt.time(12), dt.UTC)
    stalled = sorted(d for d, s in states.items() if stalled_alert(s, STAGES, now))
    assert sorted(kinds) == ["close_date_pushed", "qualification_gap"]
    assert stalled == ["api:demo-move-2", "api:demo-move-3"]


@pytest.mark.parametrize("today", [dt.date(2026, 11, 26), dt.date(2027, 1, 1)])
def test_demo_managers_have_different_habits(today):
    """The demo actions, folded on the demo deals as review would send them: a leader, a manager, a mixed one."""
    from services.domain.quarters import quarter_of
    from services.domain.scorecard import scorecards, state_facts
    from services.ingest.demo import movement_demo_events
    from services.review.demo import requests_for
    from services.shared.events import DealEvent

    states, alerts = {}, {}
    for event in parse_events(demo_events(today) + movement_demo_events(today), 100):
        states[event.deal_id] = apply_event(states.get(event.deal_id), event, STAGES).state
        alert = discount_alert(event, states[event.deal_id], STAGES)
        if alert and alert.kind == "late_stage_discount":
            alerts[event.deal_id] = alert
    now = dt.datetime.combine(today, dt.time(12), dt.UTC)
    requests = requests_for({deal: a.alert_id for deal, a in alerts.items()}, done=set())
    assert len(requests) == 11
    for n, (path, body) in enumerate(requests):
        _, _, what, ref, route = path.split("/")
        if what == "alerts":
            alert = next(a for a in alerts.values() if a.alert_id == ref)
            deal_id, requested = alert.deal_id, alert.discount_pct
            granted = {"approved": requested, "countered": body.get("discount_pct"), "rejected": None}[body["decision"]]
            action = {"by": body["by"], "alert_id": ref, "decision": body["decision"], "requested_pct": requested}
            action |= {"discount_pct": granted} if granted is not None else {}
            kind = "deal.discount_decided"
        else:
            deal_id = ref
            action = {k: v for k, v in body.items() if k in ("by", "kind", "questions", "note")}
            kind = {"reviews": "deal.reviewed", "help": "deal.help_offered"}[route]
        event = DealEvent.model_validate(
            {
                "event_id": f"demo-act-{n}",
                "source": "review",
                "deal_id": deal_id,
                "occurred_at": (now + dt.timedelta(minutes=n)).isoformat(),
                "type": kind,
                "action": action,
            }
        )
        states[deal_id] = apply_event(states[deal_id], event, STAGES).state
    quarter = quarter_of(now.date())
    facts = [f[quarter] for f in (state_facts(s, STAGES) for s in states.values()) if quarter in f]
    verdicts = {card["actor"]: card["verdict"] for card in scorecards(facts, quarter, now)}
    assert verdicts == {"Cara Losch": "leader", "Dustin Brinkmann": "manager", "Celia Rouche": "mixed"}
    # Replaying the demo skips the actors who already acted.
    assert requests_for({}, done={"Cara Losch", "Dustin Brinkmann", "Celia Rouche"}) == []
