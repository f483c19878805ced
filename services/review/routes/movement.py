"""Pipeline movement routes: the quarter's flow and the stalled list (docs/movement.md).

Same access rules as the other lists: any role may read; a manager key sees only its teams
(another team is 403, as on the lists). The app's Redis, list reader and clock come from
``request.app.state``, so this router is included with one line.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from services.domain.lists import list_item
from services.domain.movement import FLOW_BUCKETS, with_days_in_stage
from services.domain.quarters import previous_quarter, quarter_of
from services.shared.keys import RedisKeys

from ..access import principal_of
from ..alerts import scoped_teams
from ..lists import BadCursor, Cursor, page_across_teams

router = APIRouter()

FLOW_MAX_DEALS = 200_000  # deals one flow answer may add up; a filter narrows a larger pipeline
Bucket = Literal["start", "new", "pulled_in", "pushed_out", "increased", "decreased", "won", "lost", "end"]
QuarterQ = Annotated[
    str | None,
    Query(pattern=r"^\d{4}Q[1-4]$", description="Quarter, e.g. 2026Q4: the current one (default) or the previous one."),
]
BucketQ = Annotated[Bucket | None, Query(description="Page this bucket's deals instead of only counting them.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, at most 500).")]
CursorQ = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page.")]
Team = Annotated[str | None, Query(max_length=200, description="Only deals of this team.")]
Owner = Annotated[str | None, Query(max_length=200, description="Only deals of this owner id.")]
Manager = Annotated[str | None, Query(max_length=200, description="Only deals of this manager id.")]
MinAmount = Annotated[
    float | None, Query(ge=0, allow_inf_nan=False, description="Only deals with at least this amount.")
]


class BucketTotal(BaseModel):
    count: int
    amount: float


class FlowAnswer(BaseModel):
    quarter: str
    as_of: dt.datetime
    buckets: dict[str, BucketTotal] = Field(
        description="start, new, pulled_in, pushed_out, increased, decreased, won, "
        "lost, end; start + new + pulled_in - pushed_out + increased "
        "- decreased - won - lost = end."
    )
    reconciles: bool = Field(description="Whether the amounts add up (they always should).")
    bucket: str | None = Field(None, description="The bucket paged in items, when ?bucket= was given.")
    items: list[dict[str, Any]] | None = Field(None, description="That bucket's deals, largest part first.")
    next_cursor: str | None = None


class StalledPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Stalled open deals, by potential value.")
    as_of: dt.datetime
    next_cursor: str | None


def _teams(request: Request, team: str | None) -> frozenset[str] | None:
    try:
        return scoped_teams(team, principal_of(request).teams)
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None


def _cursor(raw: str | None) -> Cursor | None:
    try:
        return Cursor.decode(raw) if raw else None
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None


@router.get(
    "/v1/lists/stalled",
    response_model=StalledPage,
    summary="Stalled open early and mid deals by potential value",
    description="Deals that stayed in their stage past its stall_days (docs/movement.md); the list shape "
    "and filters of the other lists.",
)
async def stalled_list(
    request: Request,
    team: Team = None,
    owner: Owner = None,
    manager: Manager = None,
    min_amount: MinAmount = None,
    limit: Limit = 50,
    cursor: CursorQ = None,
) -> StalledPage:
    lists = request.app.state.lists
    teams = _teams(request, team)
    position = _cursor(cursor)
    others = {k: v for k, v in (("owner", owner), ("manager", manager)) if v}
    as_of = lists.clock()
    if teams is not None and len(teams) > 1:
        page = await page_across_teams(lists, "stalled", teams, others, limit, position, min_amount)
    else:
        filters = ({"team": next(iter(teams))} if teams else {}) | others
        page = await lists.page("stalled", filters, limit, position, min_amount)
    return StalledPage(items=page.items, as_of=as_of, next_cursor=page.next_cursor)


@router.get(
    "/v1/pipeline/flow",
    response_model=FlowAnswer,
    summary="How the quarter's pipeline moved: start, new, pulled in, pushed out, changed, won, lost, end",
    responses={422: {"description": "Not the current or the previous quarter, or a bad parameter"}},
)
async def pipeline_flow(
    request: Request,
    quarter: QuarterQ = None,
    team: Team = None,
    owner: Owner = None,
    manager: Manager = None,
    bucket: BucketQ = None,
    limit: Limit = 50,
    cursor: CursorQ = None,
) -> FlowAnswer:
    redis = request.app.state.redis
    keys: RedisKeys = request.app.state.settings.common.keys
    as_of = request.app.state.lists.clock()
    current = quarter_of(as_of.date())
    quarter = quarter or current
    if quarter not in (current, previous_quarter(current)):
        raise HTTPException(
            422,
            f"quarter: {quarter} is not {current} (current) or {previous_quarter(current)} "
            "(previous), the quarters the read model keeps",
        )
    teams = _teams(request, team)
    position = _cursor(cursor)
    parts = await flow_parts(redis, keys, quarter, teams, owner, manager)
    totals = {
        name: BucketTotal(count=len(deals), amount=round(sum(deals.values()), 2)) for name, deals in parts.items()
    }
    added = sum(totals[b].amount for b in ("start", "new", "pulled_in", "increased"))
    taken = sum(totals[b].amount for b in ("pushed_out", "decreased", "won", "lost"))
    answer = FlowAnswer(
        quarter=quarter,
        as_of=as_of,
        buckets=totals,
        reconciles=abs(added - taken - totals["end"].amount) < 0.01 * (1 + totals["end"].count),
    )
    if bucket is not None:
        answer.bucket = bucket
        answer.items, answer.next_cursor = await _bucket_page(
            redis, keys, parts[bucket], bucket, limit, position, as_of
        )
    return answer


async def _members(redis, key: str) -> dict[str, float]:
    return {
        (m.decode() if isinstance(m, bytes) else m): float(s)
        for m, s in await redis.zrange(key, 0, -1, withscores=True)
    }


async def _parts_of(
    redis, keys: RedisKeys, quarter: str, dim: str | None, value: str | None
) -> dict[str, dict[str, float]]:
    """bucket -> deal -> amount under one filter key (or none).

    The worker writes a deal's parts for the current and previous quarter whenever it places
    the deal; a deal placed in neither since the quarter began has not changed since, so it is
    in both start and end exactly when the manager ranking of the quarter holds it."""
    parts = {name: await _members(redis, keys.flow(quarter, name, dim, value)) for name in FLOW_BUCKETS}
    seen = await _members(redis, keys.flow(quarter, "seen", dim, value))
    unchanged = {
        d: a for d, a in (await _members(redis, keys.manager_rank(quarter, dim, value))).items() if d not in seen
    }
    parts["start"] |= unchanged
    parts["end"] |= unchanged
    return parts


async def flow_parts(
    redis, keys: RedisKeys, quarter: str, teams: frozenset[str] | None, owner: str | None, manager: str | None
) -> dict[str, dict[str, float]]:
    """Each bucket's deals (deal -> amount) under the filters and the caller's team scope."""
    if owner or manager:
        dim, value = ("owner", owner) if owner else ("manager", manager)
        parts = await _parts_of(redis, keys, quarter, dim, value)
        checks = {"team": teams, "manager": {manager} if owner and manager else None}
        parts = await _filter_on_cards(redis, keys, parts, checks)
    elif teams is not None:
        parts = {name: {} for name in FLOW_BUCKETS}
        for one in sorted(teams):  # a deal has one team: the teams' parts are disjoint
            for name, deals in (await _parts_of(redis, keys, quarter, "team", one)).items():
                parts[name] |= deals
    else:
        parts = await _parts_of(redis, keys, quarter, None, None)
    if sum(len(deals) for deals in parts.values()) > FLOW_MAX_DEALS:
        raise HTTPException(
            422, f"the flow holds more than {FLOW_MAX_DEALS} deal parts: narrow it with team, owner or manager"
        )
    return parts


async def _filter_on_cards(
    redis, keys: RedisKeys, parts: dict[str, dict[str, float]], checks: dict[str, set[str] | frozenset[str] | None]
) -> dict[str, dict[str, float]]:
    wanted = {dim: values for dim, values in checks.items() if values is not None}
    if not wanted:
        return parts
    deals = sorted({d for bucket in parts.values() for d in bucket})
    if len(deals) > FLOW_MAX_DEALS:
        raise HTTPException(422, f"more than {FLOW_MAX_DEALS} deals to filter: narrow the query")
    fields = {"team": "team", "manager": "manager_id"}
    keep = set()
    for start in range(0, len(deals), 500):
        chunk = deals[start : start + 500]
        for deal, raw in zip(chunk, await redis.mget([keys.deal(d) for d in chunk])):
            card = orjson.loads(raw) if raw else {}
            if all(str(card.get(fields[dim], "")) in values for dim, values in wanted.items()):
                keep.add(deal)
    return {name: {d: a for d, a in bucket.items() if d in keep} for name, bucket in parts.items()}


async def _bucket_page(
    redis,
    keys: RedisKeys,
    deals: dict[str, float],
    bucket: str,
    limit: int,
    position: Cursor | None,
    as_of: dt.datetime,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of one bucket's deals in the list shape, largest part first (ties by deal id, descending)."""
    ranked = sorted(deals.items(), key=lambda row: (row[1], row[0]), reverse=True)
    if position is not None:
        ranked = [row for row in ranked if (row[1], row[0]) < position.key()]
    page, more = ranked[:limit], len(ranked) > limit
    items = []
    cards = await redis.mget([keys.deal(d) for d, _ in page]) if page else []
    for (_deal, amount), raw in zip(page, cards):
        if raw is None:
            continue
        item = with_days_in_stage(list_item(orjson.loads(raw), "manager"), as_of)
        item["score"] = amount
        item["score_parts"] = {"bucket": bucket, "amount": amount}
        items.append(item)
    next_cursor = Cursor(page[-1][1], page[-1][0]).encode() if more and page else None
    return items, next_cursor
