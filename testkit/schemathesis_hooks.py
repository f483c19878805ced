"""Schemathesis hooks for the API contract runs (``SCHEMATHESIS_HOOKS=testkit.schemathesis_hooks``).

One rule of ``POST /v1/events`` depends on the clock and so cannot be in a static schema: an
event may not be dated later than now plus ``PR_INGEST_MAX_CLOCK_SKEW`` (the OpenAPI document
says so in the 422's description). A generated date in the year 4924 is schema-valid but is
rightly refused; this hook moves such dates back to now before the request is sent, so that
the check "a schema-valid request is accepted" tests everything else. Nothing else is changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import schemathesis


def _clamped(event: Any, now: dt.datetime) -> Any:
    if not isinstance(event, dict) or not isinstance(event.get("occurred_at"), str):
        return event
    try:
        when = dt.datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    except ValueError:
        return event  # not a date: the request is meant to be refused, leave it so
    if when.tzinfo is None or when <= now:
        return event
    return event | {"occurred_at": now.isoformat()}


@schemathesis.hook
def before_call(ctx, case, kwargs: dict[str, Any]) -> None:
    if case.operation.path != "/v1/events" or case.method.upper() != "POST":
        return
    now = dt.datetime.now(dt.UTC)
    if isinstance(case.body, list):
        case.body = [_clamped(event, now) for event in case.body]
    elif isinstance(case.body, dict):
        case.body = _clamped(case.body, now)
