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
