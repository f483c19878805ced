"""The alert kinds on deal-alerts, the feed, the streams and the webhooks (one list for all)."""

from __future__ import annotations

from typing import Literal

LATE_STAGE_DISCOUNT = "late_stage_discount"
DISCOUNT_INFO = "discount_info"  # a discount on an early or mid deal: information, not a late-stage alert
CLOSE_DATE_PUSHED = "close_date_pushed"
QUALIFICATION_GAP = "qualification_gap"
STALLED = "stalled"
MOVEMENT_KINDS = (CLOSE_DATE_PUSHED, QUALIFICATION_GAP, STALLED)
ALERT_KINDS = (LATE_STAGE_DISCOUNT, DISCOUNT_INFO, *MOVEMENT_KINDS)

AlertKind = Literal["late_stage_discount", "discount_info", "close_date_pushed", "qualification_gap", "stalled"]
