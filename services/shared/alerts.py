"""The alert record: what scoring raises on ``deal-alerts`` and review keeps on the feed and delivers.

One model for every hop, so a field added by a rule reaches the feed, the stream and the webhooks
the same way. Rules may add fields of their own (``extra="allow"``): they travel untouched.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SEVERITIES = ("info", "low", "medium", "high")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class Alert(BaseModel):
    """One alert, as raised by a rule of services/domain/alerts.py or services/domain/movement.py;
    keyed by deal_id on ``deal-alerts``."""

    # A new kind of alert may add fields: readers keep what they do not know.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "alert_id": "al-3f9c2a1b7d04e5c6a8b9",
                    "kind": "late_stage_discount",
                    "severity": "high",
                    "deal_id": "api:acme-expansion",
                    "event_id": "evt-0042",
                    "name": "Acme expansion",
                    "account": "Acme",
                    "owner_id": "u-17",
                    "team": "Central",
                    "manager_id": "m-3",
                    "stage": "Negotiation/Review",
                    "phase": "late",
                    "amount": 120000.0,
                    "currency": "EUR",
                    "discount_pct": 15.0,
                    "discount_reason": "competitor undercut",
                    "value_at_risk": 18000.0,
                    "requested_by": "u-17",
                    "occurred_at": "2026-11-20T09:30:00+00:00",
                }
            ]
        },
    )

    alert_id: str = Field(
        description="Deterministic from the deal and what raised the alert (the event, or for "
        "stalled the stage entry): the same cause gives the same id, so a reader "
        "deduplicates by it (delivery is at least once)."
    )
    kind: str = Field(
        description="late_stage_discount (a late-phase deal), discount_info (early or mid), or a "
        "pipeline-movement kind: close_date_pushed, qualification_gap, stalled "
        "(docs/movement.md)."
    )
    severity: str | None = Field(
        None, description="high, medium or low by amount (by potential value for stalled); info for discount_info."
    )
    deal_id: str
    event_id: str | None = Field(
        None, description="The deal event that raised the alert; null for stalled, which the passage of time raises."
    )
    name: str | None = None
    account: str | None = None
    owner_id: str | None = None
    team: str | None = None
    manager_id: str | None = None
    stage: str | None = None
    phase: str | None = Field(None, description="The deal's journey phase after the event: early, mid or late.")
    amount: float | None = None
    currency: str | None = None
    discount_pct: float | None = Field(None, description="Discount kinds: the requested discount in percent, 0-100.")
    discount_reason: str | None = None
    value_at_risk: float | None = Field(
        None, description="Discount kinds: amount x discount_pct / 100, rounded to cents."
    )
    requested_by: str | None = None
    occurred_at: str | None = Field(
        None,
        description="When it happened (ISO 8601): the event's time, or for stalled the moment the deal became stalled.",
    )
    from_close_date: str | None = Field(None, description="close_date_pushed: the close date before the push.")
    to_close_date: str | None = Field(None, description="close_date_pushed: the close date after the push.")
    push_count: int | None = Field(
        None, description="close_date_pushed: how often the close date left its quarter so far."
    )
    missing: list[str] | None = Field(
        None, description="qualification_gap: the qualification items not known as the deal entered the late phase."
    )
    days_in_stage: int | None = Field(None, description="stalled: whole days in the current stage when raised.")
    stall_days: float | None = Field(None, description="stalled: the stage's limit from the stage map.")
    potential_value: float | None = Field(None, description="stalled: the deal's potential value.")
    stage_entered_at: str | None = Field(None, description="stalled: when the deal entered its current stage.")

    def record(self) -> bytes:
        """The value of its ``deal-alerts`` record: compact JSON."""
        return self.model_dump_json().encode()
