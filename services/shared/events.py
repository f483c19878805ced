"""The canonical deal event: the one shape every source adapter produces.

Fields inside ``changes`` that are absent were not changed; fields present with
``null`` were cleared in the source. Serialise with :func:`encode_event`, which keeps
that difference on the wire.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Final, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION: Final = 1

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
SEQUENCE_MIN, SEQUENCE_MAX = -(2**63), 2**63 - 1
"""A source sequence number is a signed 64-bit integer (what Kafka, Redis and JSON readers keep exactly)."""


class EventType(StrEnum):
    CREATED = "deal.created"
    UPDATED = "deal.updated"
    STAGE_CHANGED = "deal.stage_changed"
    DISCOUNT_REQUESTED = "deal.discount_requested"
    CLOSED_WON = "deal.closed_won"
    CLOSED_LOST = "deal.closed_lost"
    DELETED = "deal.deleted"
    # Manager actions: produced only by review (docs/scorecard.md), never by a source adapter.
    REVIEWED = "deal.reviewed"
    HELP_OFFERED = "deal.help_offered"
    DISCOUNT_DECIDED = "deal.discount_decided"


ACTION_TYPES = frozenset({EventType.REVIEWED, EventType.HELP_OFFERED, EventType.DISCOUNT_DECIDED})
"""The event types that carry an ``action`` (a manager's), and only they."""


Evidence = Literal["known", "unknown"]
QUALIFICATION_ITEMS = (
    "economic_buyer",
    "champion",
    "pain",
    "metrics",
    "decision_criteria",
    "decision_process",
)


class Qualification(BaseModel):
    """MEDDIC-style evidence: each item is known or unknown (absent means unchanged)."""

    model_config = ConfigDict(extra="forbid")

    economic_buyer: Evidence | None = None
    champion: Evidence | None = None
    pain: Evidence | None = None
    metrics: Evidence | None = None
    decision_criteria: Evidence | None = None
    decision_process: Evidence | None = None


Money = Annotated[float, Field(ge=0, le=1e15)]
Percent = Annotated[float, Field(ge=0, le=100)]
ShortText = Annotated[str, Field(max_length=500)]


class DealChanges(BaseModel):
    """The changed fields of a deal, in canonical names."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    account: ShortText | None = None
    owner_id: ShortText | None = None
    owner_name: ShortText | None = None
    team: ShortText | None = None
    manager_id: ShortText | None = None
    stage: ShortText | None = None
    amount: Money | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    potential_value: Money | None = None
    close_date: dt.date | None = None
    probability: Percent | None = Field(default=None, description="Win probability in percent, 0-100.")
    qualification: Qualification | None = None
    discount_pct: Percent | None = Field(default=None, description="Requested discount in percent, 0-100.")
    discount_reason: ShortText | None = None
    requested_by: ShortText | None = None
    competitors: list[ShortText] | None = Field(default=None, max_length=50)
    next_step: ShortText | None = None


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


class HelpKind(StrEnum):
    ACCESS = "access"
    QUALIFICATION = "qualification"
    ACCELERATION = "acceleration"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    DISCOUNT = "discount"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    COUNTERED = "countered"


ALERT_ID = r"^al-[0-9a-f]{20}$"
ActorName = Annotated[str, Field(min_length=1, max_length=200)]


class ManagerAction(BaseModel):
    """What a manager did: the payload of ``deal.reviewed``, ``deal.help_offered`` and ``deal.discount_decided``.

    ``by`` is the actor (the review key's name, or the body's ``by`` in open mode). A decision's
    ``discount_pct`` is the discount granted (the requested one when approved, the counter-offer
    when countered, absent when rejected); ``requested_pct`` is what the alert asked for."""

    model_config = ConfigDict(extra="forbid")

    by: ActorName
    note: ShortText | None = None
    questions: list[ShortText] | None = Field(default=None, max_length=20)
    kind: HelpKind | None = None
    alert_id: Annotated[str, Field(pattern=ALERT_ID)] | None = None
    decision: Decision | None = None
    discount_pct: Percent | None = None
    requested_pct: Percent | None = None

    @field_validator("by")
    @classmethod
    def _actor_printable(cls, value: str) -> str:
        if _CONTROL_CHARACTER.search(value) or not value.strip():
            raise ValueError("must be a printable name")
        return value


def _check_action(event_type: EventType, action: ManagerAction | None) -> None:
    if event_type not in ACTION_TYPES:
        if action is not None:
            raise ValueError(f"action: only {', '.join(sorted(ACTION_TYPES))} carry an action")
        return
    if action is None:
        raise ValueError(f"action: required for {event_type.value}")
    if event_type is EventType.HELP_OFFERED and action.kind is None:
        raise ValueError("action.kind: required for deal.help_offered")
    if event_type is EventType.DISCOUNT_DECIDED:
        if action.alert_id is None or action.decision is None:
            raise ValueError("action.alert_id and action.decision: required for deal.discount_decided")
        granted = action.decision in (Decision.APPROVED, Decision.COUNTERED)
        if granted and action.discount_pct is None:
            raise ValueError("action.discount_pct: required when the decision grants a discount")
        if not granted and action.discount_pct is not None:
            raise ValueError("action.discount_pct: a rejected discount grants none")


class DealEvent(BaseModel):
    """One change to one deal, as every service sees it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "schema_version": 1,
                    "event_id": "evt-0001",
                    "source": "api",
                    "deal_id": "api:acme-expansion",
                    "occurred_at": "2026-11-20T09:30:00Z",
                    "type": "deal.created",
                    "changes": {
                        "name": "Acme expansion",
                        "account": "Acme",
                        "owner_id": "u-17",
                        "team": "Central",
                        "manager_id": "m-3",
                        "stage": "Prospecting",
                        "amount": 120000,
                        "close_date": "2027-03-31",
                    },
                }
            ]
        },
    )

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    source: Annotated[str, Field(pattern=SOURCE_NAME.pattern)]
    deal_id: Annotated[str, Field(min_length=1, max_length=200)]
    occurred_at: AwareDatetime
    sequence: int | None = Field(
        default=None,
        ge=SEQUENCE_MIN,
        le=SEQUENCE_MAX,
        description="The source's own ordering number, where it has one (tie-breaker); a signed 64-bit integer.",
    )
    type: EventType
    changes: DealChanges = Field(default_factory=DealChanges)
    action: ManagerAction | None = Field(
        default=None,
        description="The manager's action, on deal.reviewed, deal.help_offered and deal.discount_decided only.",
    )

    @model_validator(mode="after")
    def _action_matches_type(self) -> DealEvent:
        _check_action(self.type, self.action)
        return self

    @field_validator("occurred_at")
    @classmethod
    def _convertible_to_utc(cls, value: dt.datetime) -> dt.datetime:
        # 0001-01-01T00:00+01:00 is valid ISO but before datetime.min in UTC: every
        # reader that orders events by time would fail on it.
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC") from None
        return value

    @field_validator("deal_id", "event_id")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if _CONTROL_CHARACTER.search(value):
            raise ValueError("must not contain control characters")
        return value

    def ordering_key(self) -> tuple[dt.datetime, int]:
        """Per-deal order: when it happened in the CRM, then the source sequence."""
        return (self.occurred_at, self.sequence if self.sequence is not None else -1)

    def changed_fields(self) -> dict:
        """Only the fields the source set (a ``None`` value means cleared)."""
        return self.changes.model_dump(mode="json", exclude_unset=True)


def encode_event(event: DealEvent) -> bytes:
    """JSON bytes for Kafka, keeping 'absent' and 'null' apart inside ``changes``."""
    if _ALWAYS_WRITTEN <= event.model_fields_set:
        # Nothing to add: pydantic writes the JSON itself (the common case, and the cheaper one).
        return event.model_dump_json(exclude_unset=True).encode()
    return orjson.dumps(event.model_dump(mode="json", exclude_unset=True) | _always(event))


_ALWAYS_WRITTEN = frozenset({"schema_version", "changes"})


def _always(event: DealEvent) -> dict:
    # Defaults that readers rely on are written even when the producer left them out.
    return {"schema_version": event.schema_version, "changes": event.changed_fields()}


def decode_event(raw: bytes | str | dict) -> DealEvent:
    """Parse and validate one canonical event from Kafka or HTTP."""
    if isinstance(raw, dict):
        return DealEvent.model_validate(raw)
    return DealEvent.model_validate_json(raw)
