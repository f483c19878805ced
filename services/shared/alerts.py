"""The alert record: what scoring raises on ``deal-alerts`` and review keeps on the feed and delivers.

One model for every hop, so a field added by a rule reaches the feed, the stream and the webhooks
the same way. Rules may add fields of their own (``extra="allow"``): they travel untouched.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SEVERITIES = ("info", "low", "medium", "high")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class Alert(BaseModel):
    """One alert, as raised by a rule of services/domain/alerts.py."""

    model_config = ConfigDict(extra="allow")

    alert_id: str
    kind: str = Field(description="late_stage_discount, discount_info for an early/mid deal, or a pipeline-movement "
                                  "kind: close_date_pushed, qualification_gap, stalled (docs/movement.md).")
    severity: str | None = None
    deal_id: str
    event_id: str | None = None
    name: str | None = None
    account: str | None = None
    owner_id: str | None = None
    team: str | None = None
    manager_id: str | None = None
    stage: str | None = None
    phase: str | None = None
    amount: float | None = None
    currency: str | None = None
    discount_pct: float | None = None
    discount_reason: str | None = None
    value_at_risk: float | None = None
    requested_by: str | None = None
    occurred_at: str | None = None

    def record(self) -> bytes:
        """The value of its ``deal-alerts`` record: compact JSON."""
        return self.model_dump_json().encode()
