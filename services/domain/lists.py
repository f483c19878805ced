"""Which lists a deal belongs to, with what score, and the item each list shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from services.shared.cards import DealCard
from services.shared.keys import FILTER_FIELDS
from services.shared.stages import Phase, StageMap

from . import movement
from .quarters import manager_horizon, previous_quarter, quarter_bounds, quarter_of  # noqa: F401 - re-exported for callers
from .retention import deleted_at
from .scoring import leader_questions, leader_score, manager_questions
from .state import STATUS_DELETED, DealState

LEFT_OUT_OF_LISTS = ("leader", "manager", "stalled", "timeline", "discount", "close_date_history")  # card only


@dataclass(frozen=True)
class Placement:
    """A deal's place in the read model: its card and its rank entries."""

    card: DealCard
    leader_score: float | None  # None: not on the leader list
    manager_quarter: str | None  # None: not on any manager list
    amount: float
    filters: dict[str, str]  # dimension -> value, for the filtered rankings
    deleted_at: float | None = None  # epoch s of the deletion; None: not deleted
    stall_due: float | None = None  # epoch s when the deal's stalled alert is due; None: none to come
    stalled_score: float | None = None  # potential value while stalled (alerted, not moved since); None: not stalled
    flows: dict[str, dict[str, float]] = field(default_factory=dict)  # quarter -> bucket -> amount


def place(
    state: DealState,
    stage_map: StageMap,
    as_of: dt.datetime | None = None,
    stall: movement.Stall | None = movement.STALL_UNKNOWN,
) -> Placement:
    """Compute the deal card and the list memberships of one deal (pure but for ``as_of``).

    ``as_of`` (default: now) picks the quarters whose flow the deal's parts are written for:
    the current and the previous one. ``stall``: the deal's ``movement.stall_of``, when the caller
    has it already (the fold asks it for the stalled alert)."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    current = quarter_of(as_of.date())
    phase = state.phase(stage_map)
    deleted = state.status == STATUS_DELETED
    is_open = not deleted and phase.is_open
    evidence = state.qualification()
    amount = float(state.get("amount", 0.0))
    scored = leader_score(state.fields.get("potential_value"), state.fields.get("amount"), evidence)
    close_date = state.close_date()
    if stall is movement.STALL_UNKNOWN:
        stall = movement.stall_of(state, stage_map)  # once: the card, the due time and the stalled list read it
    questions = leader_questions(evidence, state.get("account"))
    on_leader = is_open and phase is Phase.EARLY
    on_manager = is_open and close_date is not None
    item: DealCard = {
        "deal_id": state.deal_id,
        "name": state.get("name", ""),
        "account": state.get("account", ""),
        "owner_id": state.get("owner_id", ""),
        "owner_name": state.get("owner_name", ""),
        "team": state.get("team", ""),
        "manager_id": state.get("manager_id", ""),
        "stage": state.get("stage", ""),
        "phase": "deleted" if deleted else phase.value,
        "status": state.status,
        "amount": amount,
        "currency": state.get("currency", ""),
        "potential_value": scored.potential_value,
        "close_date": state.fields.get("close_date"),
        "probability": state.fields.get("probability"),
        "qualification": evidence,
        "leader": {"score": scored.score, "score_parts": scored.parts(), "questions": questions},
        "manager": {
            "score": amount,
            "score_parts": {
                "amount": amount,
                "close_date": state.fields.get("close_date"),
                "formula": "amount, largest first",
            },
            "questions": manager_questions(state.fields.get("close_date")),
        },
        "discount": {
            "discount_pct": state.fields.get("discount_pct"),
            "discount_reason": state.fields.get("discount_reason"),
            "requested_by": state.fields.get("requested_by"),
            "decision": state.fields.get("discount_decision"),
            "decided_by": state.fields.get("discount_decided_by"),
            "alert_id": state.fields.get("discount_alert_id"),
        },
        "stalled": {
            "score": scored.potential_value,
            "score_parts": {"potential_value": scored.potential_value, "formula": "potential value, largest first"},
            "questions": list(questions),
        },
        "next_step": state.fields.get("next_step"),
        "competitors": state.fields.get("competitors") or [],
        "timeline": state.timeline,
        **movement.movement_fields(state, stage_map, stall),  # type: ignore[typeddict-item]  # DealCard's movement keys
    }
    filters = {dim: str(state.fields[name]) for dim, name in FILTER_FIELDS.items() if state.fields.get(name)}
    return Placement(
        card=item,
        leader_score=scored.score if on_leader else None,
        manager_quarter=quarter_of(close_date) if on_manager and close_date else None,
        amount=amount,
        filters=filters,
        deleted_at=deleted_at(state),
        stall_due=movement.stall_due(state, stage_map, stall),
        stalled_score=scored.potential_value if movement.is_stalled(state, stage_map, stall) else None,
        flows=movement.deal_flows(state, (current, previous_quarter(current)), as_of),
    )


def list_item(card: DealCard, which: str) -> dict[str, Any]:
    """The list entry (the shape in docs/contracts.md) for the leader or manager list, from a deal card."""
    view = card[which]  # type: ignore[literal-required]  # "leader" or "manager"
    item = {k: v for k, v in card.items() if k not in LEFT_OUT_OF_LISTS and not k.startswith("_")}
    item["score"] = view["score"]
    item["score_parts"] = view["score_parts"]
    item["questions"] = view["questions"]
    return item
