"""The two ranked lists: the leader list and the manager list, paged and scoped to the caller's teams."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from ..access import Principal
from ..deps import Clock, CurrentPrincipal, Lists
from ..lists import BadCursor, Cursor, ListReader, page_across_teams
from .common import ACCESS_ERRORS, CursorQ, Limit, Manager, MinAmount, Owner, Team, teams_in_scope

router = APIRouter()


class ListPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "deal_id": "api:acme-expansion",
                            "name": "Acme expansion",
                            "account": "Acme",
                            "owner_id": "u-17",
                            "team": "Central",
                            "stage": "Prospecting",
                            "phase": "early",
                            "amount": 120000.0,
                            "potential_value": 120000.0,
                            "close_date": "2027-03-31",
                            "score": 60000.0,
                            "score_parts": {"potential_value": 120000.0, "evidence_coverage": 0.5, "winnability": 0.5},
                            "questions": ["..."],
                        }
                    ],
                    "as_of": "2026-11-20T09:30:00Z",
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[dict[str, Any]] = Field(description="Deals in rank order.")
    as_of: dt.datetime = Field(description="When this answer was read.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


async def list_page(
    lists: ListReader,
    as_of: dt.datetime,
    principal: Principal,
    which: str,
    team: str | None,
    owner: str | None,
    manager: str | None,
    min_amount: float | None,
    limit: int,
    cursor: str | None,
) -> ListPage:
    """One page of list ``which``, across the caller's teams when it names none."""
    teams = teams_in_scope(team, principal)
    try:
        position = Cursor.decode(cursor) if cursor else None
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    others = {k: v for k, v in (("owner", owner), ("manager", manager)) if v}
    if teams is not None and len(teams) > 1:
        page = await page_across_teams(lists, which, teams, others, limit, position, min_amount)
    else:
        filters = ({"team": next(iter(teams))} if teams else {}) | others
        page = await lists.page(which, filters, limit, position, min_amount)
    return ListPage(items=page.items, as_of=as_of, next_cursor=page.next_cursor)


@router.get(
    "/v1/lists/leader",
    response_model=ListPage,
    responses=ACCESS_ERRORS,
    summary="Early-stage deals by potential value × evidence coverage (not a win probability)",
)
async def leader_list(
    principal: CurrentPrincipal,
    lists: Lists,
    clock: Clock,
    team: Team = None,
    owner: Owner = None,
    manager: Manager = None,
    min_amount: MinAmount = None,
    limit: Limit = 50,
    cursor: CursorQ = None,
) -> ListPage:
    return await list_page(lists, clock(), principal, "leader", team, owner, manager, min_amount, limit, cursor)


@router.get(
    "/v1/lists/manager",
    response_model=ListPage,
    responses=ACCESS_ERRORS,
    summary="Deals closing this quarter, largest amount first",
)
async def manager_list(
    principal: CurrentPrincipal,
    lists: Lists,
    clock: Clock,
    team: Team = None,
    owner: Owner = None,
    manager: Manager = None,
    min_amount: MinAmount = None,
    limit: Limit = 50,
    cursor: CursorQ = None,
) -> ListPage:
    return await list_page(lists, clock(), principal, "manager", team, owner, manager, min_amount, limit, cursor)
