import pytest

from services.domain.alerts import LATE_STAGE_DISCOUNT, alert_id_for, discount_alert, severity
from services.domain.state import apply_event, fold
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


def alert_after(stage, **discount):
    state = fold([event(deal_id="d", type="deal.created", at=0, stage=stage, amount=200_000, team="East")], STAGES)
    request = event(deal_id="d", type="deal.discount_requested", at=1, **discount)
    applied = apply_event(state, request, STAGES)
    return discount_alert(request, applied.state, STAGES), request


def test_discount_on_a_late_deal_raises_a_late_stage_alert_with_value_at_risk():
    alert, request = alert_after("Negotiation/Review", discount_pct=15, requested_by="rep-1")
    assert alert.kind == LATE_STAGE_DISCOUNT
    assert alert.value_at_risk == 30_000
    assert alert.requested_by == "rep-1"
    assert alert.amount == 200_000
    assert alert.stage == "Negotiation/Review"
    assert alert.occurred_at == request.occurred_at.isoformat()
    assert alert.severity == "medium"
    assert alert.alert_id == alert_id_for("d", request.event_id)


@pytest.mark.parametrize("stage", ["Prospecting", "Value Proposition"])
def test_discount_on_an_early_or_mid_deal_is_only_information(stage):
    alert, _ = alert_after(stage, discount_pct=15)
    assert alert.kind == "discount_info"


def test_no_alert_without_a_discount_or_on_a_closed_deal():
    assert alert_after("Negotiation/Review")[0] is None
    assert alert_after("Closed Won", discount_pct=10)[0] is None


def test_the_same_request_seen_twice_raises_one_alert():
    state = fold([event(deal_id="d", type="deal.created", at=0, stage="Negotiation/Review", amount=10)], STAGES)
    request = event(deal_id="d", type="deal.discount_requested", at=1, discount_pct=5)
    first = apply_event(state, request, STAGES)
    second = apply_event(first.state, request, STAGES)
    assert not first.duplicate and second.duplicate


def test_severity_thresholds():
    assert severity(60_000, 5) == "high"
    assert severity(100, 25) == "high"
    assert severity(10_000, 1) == "medium"
    assert severity(100, 1) == "low"
