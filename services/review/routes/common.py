"""What several review routers share: the error shape, the access errors and the query parameters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import HTTPException, Query
from pydantic import BaseModel, ConfigDict

from ..access import Principal
from ..alerts import scoped_teams


class Problem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "team: this key may not read team 'West'"}]})

    detail: str


ACCESS_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No or unknown API key"},
    403: {"model": Problem, "description": "The key's role or teams do not allow this"},
}

# Query parameters shared by the list, alert and webhook routes.
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, at most 500).")]
CursorQ = Annotated[str | None, Query(description="next_cursor of the previous page.")]
Team = Annotated[str | None, Query(description="Only deals of this team.")]
Owner = Annotated[str | None, Query(description="Only deals of this owner id.")]
Manager = Annotated[str | None, Query(description="Only deals of this manager id.")]
MinAmount = Annotated[
    float | None,
    Query(ge=0, allow_inf_nan=False, description="Only deals with at least this amount (a finite number)."),
]
Kind = Annotated[
    str | None,
    Query(
        description="Only alerts of this kind (late_stage_discount, discount_info, "
        "close_date_pushed, qualification_gap, stalled)."
    ),
]
Since = Annotated[
    dt.datetime | None, Query(description="Only alerts that occurred at or after this ISO datetime (naive = UTC).")
]


def teams_in_scope(team: str | None, principal: Principal) -> frozenset[str] | None:
    """The teams a request reads (None = all); 403 when ``team`` lies outside the caller's."""
    try:
        return scoped_teams(team, principal.teams)
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
