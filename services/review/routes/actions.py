"""Managers' actions: reviews, help and discount decisions, each a canonical event on deal-events.

An action is answered 202 only once Kafka acknowledged its event; the scoring worker folds it
onto the deal's timeline and the scorecard (docs/scorecard.md). The actor is the calling key's
name; only in open mode, where no key names anyone, does the body's ``by`` say who acted.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.shared import tracing
from services.shared.events import (
    ActorName,
    DealEvent,
    Decision,
    EventType,
    HelpKind,
    ManagerAction,
    Percent,
    ShortText,
    encode_event,
)
from services.shared.producer import KafkaUnavailable

from ..access import OPEN_ADMIN, Principal, Role
from ..deps import Clock, CurrentPrincipal, Producer, ReadModelKeys, Redis, ReviewMetrics, Settings, Store
from .common import ACCESS_ERRORS, Problem

router = APIRouter()

DISCOUNT_KINDS = ("late_stage_discount", "discount_info")
CLOSED_PHASES = ("won", "lost", "deleted")

DealId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f]+$",
        description="The deal's id, as on its card (no control characters).",
    ),
]
AlertId = Annotated[str, Path(pattern=r"^al-[0-9a-f]{20}$", description="The alert's id (al-<20 hex digits>).")]


class _ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: ShortText | None = Field(None, description="Free text, at most 500 characters.")
    by: ActorName | None = Field(None, description="Who acted: only in open mode (no API key names the caller).")


class ReviewRequest(_ActionBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"questions": ["Who signs, and have we met them?"], "note": "cadence call"}]},
    )

    questions: list[ShortText] = Field(
        default_factory=list, max_length=20, description="The questions asked in the review (at most 20)."
    )


class HelpRequest(_ActionBody):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kind": "access", "note": "intro to CFO"}]}
    )

    kind: HelpKind


class DecisionRequest(_ActionBody):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "countered", "discount_pct": 5}]}
    )

    decision: Decision
    discount_pct: Percent | None = Field(
        None,
        description="countered: the counter-offer (required, below the request); approved: the request's, if "
        "given; rejected: must be left out.",
    )


class ActionAccepted(BaseModel):
    event_id: str
    deal_id: str
    type: str
    occurred_at: str
    action: dict[str, Any]


ACTION_ERRORS = {
    **ACCESS_ERRORS,
    404: {"model": Problem, "description": "No such deal or alert (or not in the key's teams)"},
    409: {
        "model": Problem,
        "description": "The deal is closed, the alert has no discount to decide, "
        "or the discount_pct does not fit the percent requested "
        "(approve: that percent; counter: below it)",
    },
    422: {
        "model": Problem,
        "description": "Invalid body or id; or, found the deal or alert, a `by` "
        "missing in open mode or naming another than the key; "
        "`detail` names the field",
    },
    503: {"model": Problem, "description": "Kafka did not acknowledge; nothing was recorded"},
}


def check_writer(principal: Principal) -> None:
    if not principal.can_write:
        raise HTTPException(403, "this key is read-only (dashboard)")


def actor_of(principal: Principal, by: str | None) -> str:
    """Who acts: the key's name; the body's ``by`` only in open mode.

    Asked after the deal or alert was found, so an unknown one answers 404 whatever the body says."""
    if principal is OPEN_ADMIN:
        if not by:
            raise HTTPException(422, "by: required (the service runs open: no API key names the caller)")
        return by
    if by is not None:
        raise HTTPException(422, f"by: a key acts as its own name ({principal.name!r}); leave `by` out")
    return principal.name


ACTION_BODIES = ("ReviewRequest", "HelpRequest", "DecisionRequest")


def _require_by(model: dict[str, Any]) -> None:
    """``by`` required and not null (its string schema instead of string-or-null)."""
    model["required"] = sorted({*model.get("required", []), "by"})
    by = model.get("properties", {}).get("by", {})
    for variant in by.pop("anyOf", []):
        if variant.get("type") != "null":
            by.update(variant)
    by.pop("default", None)


def document_action_rules(schema: dict[str, Any], open_mode: bool) -> dict[str, Any]:
    """Put the mode's rule for ``by`` into the OpenAPI document, so a body it allows is accepted:
    open, every action (and an acknowledgement) must name its actor; with keys, an action must
    not (the key names it) and an acknowledgement may."""
    components = schema.get("components", {}).get("schemas", {})
    for name in ACTION_BODIES:
        model = components.get(name)
        if model is None:
            continue
        if open_mode:
            _require_by(model)
        else:
            model.get("properties", {}).pop("by", None)
    decision = components.get("DecisionRequest")
    if decision is not None:
        # A counter names its percent; a rejection grants none (how much relative to the request is a 409).
        decision["allOf"] = [
            {
                "if": {"properties": {"decision": {"const": "countered"}}, "required": ["decision"]},
                "then": {"required": ["discount_pct"], "properties": {"discount_pct": {"type": "number"}}},
            },
            {
                "if": {"properties": {"decision": {"const": "rejected"}}, "required": ["decision"]},
                "then": {"properties": {"discount_pct": {"type": "null"}}},
            },
        ]
    ack = components.get("AckRequest")
    if open_mode and ack is not None:
        _require_by(ack)
        for item in schema.get("paths", {}).values():
            operation = item.get("post", {})
            if operation.get("operationId") == "ack_alert" and "requestBody" in operation:
                operation["requestBody"]["required"] = True
                operation["requestBody"]["content"]["application/json"]["schema"] = {
                    "$ref": "#/components/schemas/AckRequest"
                }
    return schema


async def open_deal(redis, keys, principal: Principal, deal_id: str) -> dict[str, Any]:
    """The deal's card; 404 when unknown or another team's (as if it did not exist), 409 when closed.

    ``deal_id`` arrives checked by the DealId path parameter (non-empty, no control characters)."""
    raw = await redis.get(keys.deal(deal_id))
    card = json.loads(raw) if raw is not None else None
    if card is None or not principal.sees_team(card.get("team")):
        raise HTTPException(404, f"deal_id: no deal {deal_id!r}")
    if card.get("phase") in CLOSED_PHASES:
        raise HTTPException(409, f"deal_id: the deal is {card.get('phase')}; actions go on open deals")
    return card


async def send_action(producer, settings, metrics, event: DealEvent) -> None:
    """Put the action's event on deal-events and wait for Kafka's acknowledgement."""
    # With tracing on, the record carries the request's trace context: the fold's span joins this request's trace.
    headers = tracing.kafka_headers() if tracing.enabled() else None
    try:
        await producer.send(
            settings.common.deal_events_topic, [(event.deal_id.encode(), encode_event(event))], headers=headers
        )
    except KafkaUnavailable as exc:
        raise HTTPException(
            503, f"Kafka unavailable, the action was not recorded: {exc}", headers={"Retry-After": "2"}
        ) from None
    metrics.actions.labels(event.type.value).inc()


def action_event(deal_id: str, type_: EventType, action: dict[str, Any], now) -> DealEvent:
    try:
        return DealEvent(
            event_id=f"rv-{uuid.uuid4().hex}",
            source="review",
            deal_id=deal_id,
            occurred_at=now,
            type=type_,
            action=ManagerAction.model_validate(action),
        )
    except ValidationError as exc:  # the request models carry the same rules; this keeps a slip a 422, not a 500
        raise HTTPException(422, f"invalid action: {exc.errors(include_url=False)[0].get('msg')}") from None


def accepted(event: DealEvent) -> JSONResponse:
    assert event.action is not None  # built by action_event
    body = ActionAccepted(
        event_id=event.event_id,
        deal_id=event.deal_id,
        type=event.type.value,
        occurred_at=event.occurred_at.isoformat(),
        action=event.action.model_dump(mode="json", exclude_none=True),
    )
    return JSONResponse(body.model_dump(), status_code=202)


@router.post(
    "/v1/deals/{deal_id}/reviews",
    status_code=202,
    response_model=ActionAccepted,
    responses=ACTION_ERRORS,
    summary="Log a cadence-call review of a deal (deal.reviewed)",
    description="Answered 202 once Kafka acknowledged the `deal.reviewed` event. Manager keys act only on "
    "their teams' deals; dashboard keys never act.",
)
async def log_review(
    deal_id: DealId,
    body: ReviewRequest,
    principal: CurrentPrincipal,
    redis: Redis,
    keys: ReadModelKeys,
    settings: Settings,
    producer: Producer,
    clock: Clock,
    metrics: ReviewMetrics,
) -> JSONResponse:
    check_writer(principal)
    await open_deal(redis, keys, principal, deal_id)
    by = actor_of(principal, body.by)
    fields = {"by": by, "questions": body.questions or None, "note": body.note}
    event = action_event(deal_id, EventType.REVIEWED, {k: v for k, v in fields.items() if v is not None}, clock())
    await send_action(producer, settings, metrics, event)
    return accepted(event)


@router.post(
    "/v1/deals/{deal_id}/help",
    status_code=202,
    response_model=ActionAccepted,
    responses=ACTION_ERRORS,
    summary="Offer help on a deal (deal.help_offered)",
    description="`kind`: access, qualification, acceleration, executive_sponsor or discount. Answered 202 "
    "once Kafka acknowledged the event.",
)
async def offer_help(
    deal_id: DealId,
    body: HelpRequest,
    principal: CurrentPrincipal,
    redis: Redis,
    keys: ReadModelKeys,
    settings: Settings,
    producer: Producer,
    clock: Clock,
    metrics: ReviewMetrics,
) -> JSONResponse:
    check_writer(principal)
    await open_deal(redis, keys, principal, deal_id)
    by = actor_of(principal, body.by)
    fields = {"by": by, "kind": body.kind.value, "note": body.note}
    event = action_event(deal_id, EventType.HELP_OFFERED, {k: v for k, v in fields.items() if v is not None}, clock())
    await send_action(producer, settings, metrics, event)
    return accepted(event)


def granted_pct(body: DecisionRequest, requested: float) -> float | None:
    """The discount the decision grants; 422 when the body's discount_pct does not fit the decision."""
    if body.decision is Decision.REJECTED:
        if body.discount_pct is not None:
            raise HTTPException(422, "discount_pct: a rejected discount grants none; leave it out")
        return None
    # What depends on the alert (the percent requested) is a 409; what the body alone decides, a 422
    # (and the OpenAPI document says it: document_action_rules).
    if body.decision is Decision.APPROVED:
        if body.discount_pct is not None and body.discount_pct != requested:
            raise HTTPException(
                409, f"discount_pct: approving grants the {requested:g} % requested; counter to grant another"
            )
        return requested
    if body.discount_pct is None:
        raise HTTPException(422, "discount_pct: required to counter")
    if not 0 < body.discount_pct < requested:
        raise HTTPException(409, f"discount_pct: a counter-offer lies between 0 and the {requested:g} % requested")
    return body.discount_pct


@router.post(
    "/v1/alerts/{alert_id}/decision",
    status_code=202,
    response_model=ActionAccepted,
    responses=ACTION_ERRORS,
    summary="Approve, reject or counter a requested discount (deal.discount_decided)",
    description="On a `late_stage_discount` or `discount_info` alert. A `high` severity alert needs an admin "
    "key unless PR_REVIEW_HIGH_SEVERITY_DECISION_ROLE=manager. Answered 202 once Kafka "
    "acknowledged the event; the alert then shows the decision, and an approved or countered "
    "discount becomes the deal's discount_pct.",
)
async def decide_discount(
    alert_id: AlertId,
    body: DecisionRequest,
    principal: CurrentPrincipal,
    store: Store,
    settings: Settings,
    producer: Producer,
    clock: Clock,
    metrics: ReviewMetrics,
) -> JSONResponse:
    check_writer(principal)
    alert = await store.get(alert_id)
    if alert is None or not principal.sees_team(alert.get("team")):
        raise HTTPException(404, f"alert_id: no alert {alert_id!r}")
    by = actor_of(principal, body.by)
    if alert.get("kind") not in DISCOUNT_KINDS or not alert.get("discount_pct"):
        raise HTTPException(409, f"alert_id: a {alert.get('kind')} alert has no discount to decide")
    if (
        alert.get("severity") == "high"
        and settings.high_severity_decision_role == Role.ADMIN.value
        and principal.role != Role.ADMIN
    ):
        raise HTTPException(403, "a high severity discount needs an admin key (PR_REVIEW_HIGH_SEVERITY_DECISION_ROLE)")
    requested = float(alert["discount_pct"])
    granted = granted_pct(body, requested)
    fields = {
        "by": by,
        "alert_id": alert_id,
        "decision": body.decision.value,
        "discount_pct": granted,
        "requested_pct": requested,
        "note": body.note,
    }
    event = action_event(
        alert["deal_id"], EventType.DISCOUNT_DECIDED, {k: v for k, v in fields.items() if v is not None}, clock()
    )
    await send_action(producer, settings, metrics, event)
    await store.decide(
        alert_id,
        {
            "decision": body.decision.value,
            "discount_pct": granted,
            "by": by,
            "at": event.occurred_at.isoformat(),
            "event_id": event.event_id,
        },
    )
    return accepted(event)
