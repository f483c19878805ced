"""The records on deal-alerts and deal-events-dlq, as pydantic models: their one written contract.

The producers build plain dicts on their hot paths (services/domain/alerts.py, ingest's
dead_letter_record); these models describe them for integrators (the AsyncAPI document,
services/shared/asyncapi.py) and a test holds the two together.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DealAlert(BaseModel):
    """One alert raised by the scoring worker; keyed by deal_id on deal-alerts."""

    # A new kind of alert may add fields: readers keep what they do not know.
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "alert_id": "al-3f9c2a1b7d04e5c6a8b9", "kind": "late_stage_discount", "severity": "high",
        "deal_id": "api:acme-expansion", "event_id": "evt-0042", "name": "Acme expansion", "account": "Acme",
        "owner_id": "u-17", "team": "Central", "manager_id": "m-3", "stage": "Negotiation/Review", "phase": "late",
        "amount": 120000.0, "currency": "EUR", "discount_pct": 15.0, "discount_reason": "competitor undercut",
        "value_at_risk": 18000.0, "requested_by": "u-17", "occurred_at": "2026-11-20T09:30:00+00:00"}]})

    alert_id: str = Field(description="Deterministic from deal_id and event_id: the same request gives the same id, "
                                      "so a reader deduplicates by it (delivery is at least once).")
    kind: str = Field(description="late_stage_discount (a late-phase deal), discount_info (early or mid).")
    severity: str = Field(description="high, medium or low for late_stage_discount; info for discount_info.")
    deal_id: str
    event_id: str = Field(description="The deal event that raised the alert.")
    name: str | None = None
    account: str | None = None
    owner_id: str | None = None
    team: str | None = None
    manager_id: str | None = None
    stage: str | None = None
    phase: str = Field(description="The deal's journey phase after the event: early, mid or late.")
    amount: float
    currency: str | None = None
    discount_pct: float = Field(description="Requested discount in percent, 0-100.")
    discount_reason: str | None = None
    value_at_risk: float = Field(description="amount x discount_pct / 100, rounded to cents.")
    requested_by: str | None = None
    occurred_at: AwareDatetime = Field(description="When the discount was requested in the CRM (the event's time).")


class DeadLetterRecord(BaseModel):
    """An item ingest received but could not map; keyed by the source's name on deal-events-dlq."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "source": "hubspot", "reason": "objectId: missing", "received_at": "2026-11-20T09:30:00+00:00",
        "payload": {"subscriptionType": "deal.propertyChange", "propertyName": "amount"}}]})

    source: str = Field(description="The CRM route (or plug-in) that received the item.")
    reason: str = Field(description="Why it could not be mapped; fix the mapping, then replay the payload.")
    received_at: AwareDatetime
    payload: Any = Field(description="The item as received, to replay it after a fix.")
