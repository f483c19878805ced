import datetime as dt

import pytest

from services.ingest.app import parse_events
from services.ingest.demo import demo_events
from services.domain.alerts import discount_alert
from services.domain.lists import place
from services.domain.state import apply_event
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
