"""The late-stage discount rule: discounting a deal that is about to close destroys value."""

from __future__ import annotations

import hashlib

from services.shared.alerts import Alert
from services.shared.events import DealEvent, EventType
from services.shared.stages import Phase, StageMap

from .state import DealState

LATE_STAGE_DISCOUNT = "late_stage_discount"
EARLY_DISCOUNT_INFO = "discount_info"


def severity(value_at_risk: float, discount_pct: float) -> str:
    """high from 50k at risk or 20 % off, medium from 10k or 10 %, else low."""
    if value_at_risk >= 50_000 or discount_pct >= 20:
        return "high"
    if value_at_risk >= 10_000 or discount_pct >= 10:
        return "medium"
    return "low"


def severity_by_amount(amount: float) -> str:
    """Severity of a movement alert by the value it concerns: high from 50k, medium from 10k."""
    if amount >= 50_000:
        return "high"
    if amount >= 10_000:
        return "medium"
    return "low"


def alert_id_for(deal_id: str, event_id: str) -> str:
    """Deterministic, so a request seen twice yields the same alert id everywhere."""
    return "al-" + hashlib.sha256(f"{deal_id}\x1f{event_id}".encode()).hexdigest()[:20]


def discount_alert(event: DealEvent, state: DealState, stage_map: StageMap) -> Alert | None:
    """The alert a discount request raises, or None.

    ``state`` is the deal after the event was applied. A request on a late-phase deal is a
    ``late_stage_discount``; on an early or mid deal it is only ``discount_info``.
    """
    if event.type is not EventType.DISCOUNT_REQUESTED:
        return None
    changes = event.changed_fields()
    pct = changes.get("discount_pct")
    if pct is None:
        pct = state.fields.get("discount_pct")
    if pct is None or pct <= 0:
        return None
    phase = state.phase(stage_map)
    if not phase.is_open:
        return None
    amount = float(state.get("amount", 0.0))
    value_at_risk = round(amount * float(pct) / 100.0, 2)
    kind = LATE_STAGE_DISCOUNT if phase is Phase.LATE else EARLY_DISCOUNT_INFO
    return Alert.model_validate(
        {
            "alert_id": alert_id_for(event.deal_id, event.event_id),
            "kind": kind,
            "severity": severity(value_at_risk, float(pct)) if kind == LATE_STAGE_DISCOUNT else "info",
            "deal_id": event.deal_id,
            "event_id": event.event_id,
            "name": state.get("name", ""),
            "account": state.get("account", ""),
            "owner_id": state.get("owner_id", ""),
            "team": state.get("team", ""),
            "manager_id": state.get("manager_id", ""),
            "stage": state.get("stage", ""),
            "phase": phase.value,
            "amount": amount,
            "currency": state.get("currency", ""),
            "discount_pct": float(pct),
            "discount_reason": changes.get("discount_reason", state.fields.get("discount_reason")),
            "value_at_risk": value_at_risk,
            "requested_by": changes.get("requested_by", state.fields.get("requested_by")),
            "occurred_at": event.occurred_at.isoformat(),
        }
    )
