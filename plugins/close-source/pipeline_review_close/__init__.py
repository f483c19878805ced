"""Close CRM opportunity webhooks -> canonical deal events (an example source plug-in).

A Close webhook delivers ``{"subscription_id": ..., "event": {...}}`` where ``event`` has
``id``, ``object_type`` (``opportunity``), ``action`` (``created``/``updated``/``deleted``),
``object_id``, ``date_created``, ``data`` (the object now) and ``previous_data`` (the
changed fields' old values, on updates).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline_review.ingest.sources.base import (
    DeadLetter,
    MappingResult,
    PayloadError,
    SourceAdapter,
    build_event,
    choose_type,
    coerce_change,
    join_path,
    parse_timestamp,
    source_id,
)
from pipeline_review.shared.events import EventType
from pipeline_review.shared.stages import StageMap

# Close field -> canonical field. Close stores values in cents ("value") with a currency.
FIELDS = {
    "note": "next_step",
    "lead_name": "account",
    "user_id": "owner_id",
    "user_name": "owner_name",
    "status_label": "stage",
    "value_currency": "currency",
    "date_won": "close_date",
    "expected_date": "close_date",
    "confidence": "probability",
}


class CloseAdapter(SourceAdapter):
    """Maps Close opportunity webhook events; other objects go to the dead-letter topic."""

    name = "close"

    def __init__(self, stage_map: StageMap):
        self.stage_map = stage_map

    def map(self, payload: Any, received_at: dt.datetime) -> MappingResult:
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
            raise PayloadError("event", "expected an object with an 'event' object")
        event = payload["event"]
        if event.get("object_type") != "opportunity":
            return MappingResult(dead_letters=[DeadLetter(f"object_type {event.get('object_type')!r} is not an opportunity", payload)])
        action = event.get("action")
        if action not in ("created", "updated", "deleted"):
            return MappingResult(dead_letters=[DeadLetter(f"action {action!r} is not mapped", payload)])
        deal_id = f"close:{source_id(event.get('object_id'), 'event.object_id')}"
        event_id = f"close:{source_id(event.get('id'), 'event.id')}"
        occurred_at = parse_timestamp(event.get("date_created"), "event.date_created")
        if action == "deleted":
            return MappingResult(events=[build_event(source="close", event_id=event_id, deal_id=deal_id,
                                                     occurred_at=occurred_at, type=EventType.DELETED)])
        data = event.get("data")
        if not isinstance(data, dict):
            raise PayloadError("event.data", "expected an object")
        names = data.keys() if action == "created" else (event.get("previous_data") or {}).keys()
        changes: dict[str, Any] = {}
        paths: dict[str, str] = {}
        for name in names:
            path = join_path("event.data", name)
            if name == "value":  # cents
                amount = coerce_change("amount", data.get(name), path)
                changes["amount"] = None if amount is None else amount / 100
                paths["amount"] = path
            elif name in FIELDS:
                changes[FIELDS[name]] = coerce_change(FIELDS[name], data.get(name), path)
                paths[FIELDS[name]] = path
        kind = EventType.CREATED if action == "created" else choose_type(changes, self.stage_map, "close")
        return MappingResult(events=[build_event(source="close", event_id=event_id, deal_id=deal_id,
                                                 occurred_at=occurred_at, type=kind, changes=changes, paths=paths)])


def make_adapter(stage_map: StageMap) -> CloseAdapter:
    """The entry point Pipeline Review calls to build this source."""
    return CloseAdapter(stage_map)
