"""The alert feed's pure logic and HTTP shapes: cursors, filters, feed items (no I/O)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.shared.alerts import SEVERITY_RANK, Alert
from services.shared.tracing import TRACE_FIELD

STREAM_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
START = "0-0"
MAX_PART = 2**64 - 1  # each half of a Redis stream id is an unsigned 64-bit integer


class BadAlertCursor(ValueError):
    """A cursor that is not a stream id this API returned."""


def parse_stream_id(text: str) -> tuple[int, int]:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)``; ``"0"`` means the very start."""
    if text == "0":
        return (0, 0)
    match = STREAM_ID.match(text or "")
    if not match:
        raise BadAlertCursor("cursor: not a cursor returned by this API")
    ms, seq = int(match.group(1)), int(match.group(2))
    if ms > MAX_PART or seq > MAX_PART:
        raise BadAlertCursor("cursor: each part of a cursor is at most 2^64-1")
    return ms, seq


def is_stream_id(text: str) -> bool:
    try:
        parse_stream_id(text)
    except BadAlertCursor:
        return False
    return True


def page_cursor(text: str) -> str:
    """A ``?cursor=`` of the newest-first feed: a stream id after the very start (``0-0`` has nothing older)."""
    if parse_stream_id(text) == (0, 0):
        raise BadAlertCursor("cursor: 0-0 has no older alerts; leave cursor out for the newest page")
    return text


def id_after(text: str) -> str | None:
    """The first stream id after ``text``; None when there is none (the largest id)."""
    ms, seq = parse_stream_id(text)
    if seq < MAX_PART:
        return f"{ms}-{seq + 1}"
    return f"{ms + 1}-0" if ms < MAX_PART else None


def id_before(text: str) -> str | None:
    """The last stream id before ``text``; None when there is none (``0-0``)."""
    ms, seq = parse_stream_id(text)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{MAX_PART}" if ms > 0 else None


def later(a: str, b: str) -> bool:
    """Is stream id ``a`` after ``b``?"""
    return parse_stream_id(a) > parse_stream_id(b)


def _aware(value: dt.datetime) -> dt.datetime:
    # A naive datetime is taken as UTC, which is what the CRM timestamps are normalised to.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a reader wants (and may see): the feed's query, the stream's and a webhook's filter.

    Each condition left None lets every alert through. ``teams``: only these teams;
    ``manager``: only this manager id; ``kinds``: only these kinds; ``since``: only alerts that
    occurred at or after it (naive = UTC); ``min_severity`` and ``min_value_at_risk``: at least that.
    """

    teams: frozenset[str] | None = None
    manager: str | None = None
    kinds: frozenset[str] | None = None
    since: dt.datetime | None = None
    min_severity: str | None = None
    min_value_at_risk: float | None = None

    def matches(self, alert: Mapping[str, Any]) -> bool:
        if self.teams is not None and (alert.get("team") or "") not in self.teams:
            return False
        if self.manager is not None and (alert.get("manager_id") or "") != self.manager:
            return False
        if self.kinds is not None and alert.get("kind") not in self.kinds:
            return False
        if (
            self.min_severity is not None
            and SEVERITY_RANK.get(str(alert.get("severity")), -1) < SEVERITY_RANK[self.min_severity]
        ):
            return False
        if self.min_value_at_risk is not None and float(alert.get("value_at_risk") or 0) < self.min_value_at_risk:
            return False
        if self.since is not None:
            try:
                occurred = _aware(dt.datetime.fromisoformat(str(alert.get("occurred_at"))))
            except ValueError:
                return False
            if occurred < _aware(self.since):
                return False
        return True


def scoped_teams(requested: str | None, allowed: frozenset[str] | None) -> frozenset[str] | None:
    """The teams a query covers: the requested one, else all the caller may see.

    Raises PermissionError when the caller asks for a team outside its scope.
    """
    if requested is not None:
        if allowed is not None and requested not in allowed:
            raise PermissionError(f"team: this key may not read team {requested!r}")
        return frozenset({requested})
    return allowed


def decode_entry(fields: dict | None) -> dict[str, Any] | None:
    """The alert dict of one stream entry (None for an entry without a readable ``alert``)."""
    if not fields:
        return None  # XAUTOCLAIM answers an entry trimmed while pending with no fields
    raw = fields.get(b"alert", fields.get("alert"))
    if raw is None:
        return None
    try:
        alert = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return alert if isinstance(alert, dict) else None


def decode_ack(raw: bytes | str | None) -> dict[str, str] | None:
    return json.loads(raw) if raw else None


class FeedItem(dict):
    """A feed item; ``trace`` is the traceparent its alert arrived with, kept for the delivery
    span and never sent (it is an attribute, not a key)."""

    trace: str | None = None


def feed_item(
    alert: dict[str, Any], cursor: str, ack: dict[str, str] | None, decision: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An alert as the feed shows it: its fields, its ``cursor``, its ``ack`` and its discount ``decision``."""
    item = FeedItem(alert, cursor=cursor, ack=ack, decision=decision)
    item.trace = item.pop(TRACE_FIELD, None)
    return item


class BadAlert(ValueError):
    """A deal-alerts record that is not an alert; the message says why."""


def parse_alert(value: bytes | str | None) -> Alert:
    """The alert of a deal-alerts record; BadAlert when it cannot go on the feed."""
    if value is None:
        raise BadAlert("no value")
    try:
        alert = Alert.model_validate_json(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            raise BadAlert("not JSON") from None
        if error["type"] == "model_type":
            raise BadAlert("not a JSON object") from None
        raise BadAlert(f"{'.'.join(str(p) for p in error['loc']) or 'alert'}: {error['msg']}") from None
    if not alert.alert_id:
        raise BadAlert("alert_id: empty")
    return alert


# --- HTTP shapes -----------------------------------------------------------------------------

EXAMPLE_ALERT: dict[str, Any] = {
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
    "cursor": "1763631000123-0",
    "ack": None,
}


class Ack(BaseModel):
    by: str = Field(description="Who acknowledged the alert.")
    at: dt.datetime = Field(description="When (UTC).")


class AlertItem(Alert):
    """One alert on the feed: the alert's fields, its cursor and its acknowledgement."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EXAMPLE_ALERT]})

    cursor: str = Field(
        description="Position on the feed (a Redis stream id); stable, usable as cursor/after/Last-Event-ID."
    )
    ack: Ack | None = Field(description="null until acknowledged; the first acknowledgement is kept.")
    decision: dict[str, Any] | None = Field(
        None,
        description="The latest discount decision (POST /v1/alerts/{alert_id}/decision): decision, discount_pct "
        "granted, by, at, event_id; null until decided.",
    )


class AlertPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EXAMPLE_ALERT], "next_cursor": "1763631000123-0"}]}
    )

    items: list[AlertItem]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= (or ?after= when polling) for more; null when there is none."
    )


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"by": "m-3"}]})

    by: str | None = Field(
        None, min_length=1, max_length=200, description="Who acknowledges; optional when the API key names the caller."
    )


class StreamMessage(BaseModel):
    """A WebSocket message: an alert or a heartbeat."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "alert", "cursor": "1763631000123-0", "alert": EXAMPLE_ALERT},
                {"type": "heartbeat"},
            ]
        }
    )

    type: str
    cursor: str | None = None
    alert: AlertItem | None = None
