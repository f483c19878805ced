"""What several review routers share: the error shape, the access errors and the query parameters."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import HTTPException, Query
from pydantic import BeforeValidator

from services.shared.alert_kinds import AlertKind
from services.shared.errors import ErrorBody, error_responses

from ..access import Principal
from ..alerts import scoped_teams
from ..lists import CURSOR_PATTERN

Problem = ErrorBody  # the one error model of both services (services/shared/errors.py)

ACCESS_ERRORS = error_responses(
    401, 403, s401="No or unknown API key", s403="The key's role or teams do not allow this"
)

# Query parameters shared by the list, alert and webhook routes. Each carries in the OpenAPI
# document every rule the code applies to it: a value the schema allows is answered 2xx.
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, at most 500).")]
ListCursorQ = Annotated[
    str | None, Query(pattern=CURSOR_PATTERN, max_length=2000, description="next_cursor of the previous page (opaque).")
]
# A feed position: a Redis stream id (the cursor of an alert) or an alert id.
ALERT_CURSOR_PATTERN = r"^[0-9]{1,19}-[0-9]{1,19}$"
ALERT_POSITION_PATTERN = r"^(?:0|[0-9]{1,19}-[0-9]{1,19}|al-[0-9a-f]{20})$"
AlertCursorQ = Annotated[
    str | None, Query(pattern=ALERT_CURSOR_PATTERN, description="next_cursor of the previous page (an alert's cursor).")
]
# Kept for the webhook routes, whose cursors have their own pattern there.
CursorQ = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")]
Team = Annotated[str | None, Query(min_length=1, max_length=200, description="Only deals of this team.")]
Owner = Annotated[str | None, Query(min_length=1, max_length=200, description="Only deals of this owner id.")]
Manager = Annotated[str | None, Query(min_length=1, max_length=200, description="Only deals of this manager id.")]
MinAmount = Annotated[
    float | None,
    Query(ge=0, allow_inf_nan=False, description="Only deals with at least this amount (a finite number)."),
]
Kind = Annotated[AlertKind | None, Query(description="Only alerts of this kind.")]


def _iso_only(value: object) -> object:
    # pydantic reads a bare number as a Unix time; the document says ISO 8601, so only that is taken.
    if isinstance(value, str) and not re.search(r"[-T:]", value.strip().lstrip("-+")):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-20T09:30:00Z")
    return value


Since = Annotated[
    dt.datetime | None,
    BeforeValidator(_iso_only),
    Query(description="Only alerts that occurred at or after this ISO datetime (naive = UTC)."),
]


def teams_in_scope(team: str | None, principal: Principal) -> frozenset[str] | None:
    """The teams a request reads (None = all); 403 when ``team`` lies outside the caller's."""
    try:
        return scoped_teams(team, principal.teams)
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
