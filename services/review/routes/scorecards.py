"""The scorecard per actor and quarter: sums of the deal facts the scoring worker keeps in Redis."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Query

from services.domain.quarters import quarter_of
from services.domain.scorecard import Thresholds, scorecards

from ..deps import Clock, CurrentPrincipal, ReadModelKeys, Redis, Settings
from .common import ACCESS_ERRORS, Problem, Team, teams_in_scope

router = APIRouter()

Quarter = Annotated[
    str | None, Query(pattern=r"^\d{4}Q[1-4]$", description="Quarter, e.g. 2026Q4 (default: the current one).")
]


async def quarter_scorecards(redis, keys, settings, clock, principal, quarter: str | None, team: str | None) -> dict:
    teams = teams_in_scope(team, principal)
    now = clock()
    quarter = quarter or quarter_of(now.date())
    facts = []
    read = 0
    async for _deal_id, raw in redis.hscan_iter(keys.scorecard(quarter), count=1000):
        read += 1
        if read > settings.scorecard_max_deals:
            raise HTTPException(
                503,
                f"quarter: more than {settings.scorecard_max_deals} deals carry actions "
                "(PR_REVIEW_SCORECARD_MAX_DEALS)",
            )
        deal = orjson.loads(raw)
        if teams is None or deal.get("team", "") in teams:
            facts.append(deal)
    thresholds = Thresholds(settings.scorecard_leader_share, settings.scorecard_discount_intensity)
    return {"quarter": quarter, "as_of": now.isoformat(), "items": scorecards(facts, quarter, now, thresholds)}


@router.get(
    "/v1/scorecards",
    responses={400: {"model": Problem}, **ACCESS_ERRORS},
    summary="Every actor's scorecard for a quarter: leader or manager?",
    description="One item per actor with `leader_share`, `early_touch_share`, `late_discounts`, "
    "`late_discount_intensity`, `help` and `verdict`, each with the counts and values it is made "
    "of (definitions: docs/scorecard.md). A manager key sees only its teams' deals.",
)
async def list_scorecards(
    principal: CurrentPrincipal,
    redis: Redis,
    keys: ReadModelKeys,
    settings: Settings,
    clock: Clock,
    quarter: Quarter = None,
    team: Team = None,
) -> dict[str, Any]:
    return await quarter_scorecards(redis, keys, settings, clock, principal, quarter, team)


@router.get(
    "/v1/scorecards/{actor}",
    responses={404: {"model": Problem}, **ACCESS_ERRORS},
    summary="One actor's scorecard for a quarter",
)
async def actor_scorecard(
    actor: Annotated[str, Path(max_length=200)],
    principal: CurrentPrincipal,
    redis: Redis,
    keys: ReadModelKeys,
    settings: Settings,
    clock: Clock,
    quarter: Quarter = None,
    team: Team = None,
) -> dict[str, Any]:
    page = await quarter_scorecards(redis, keys, settings, clock, principal, quarter, team)
    for item in page["items"]:
        if item["actor"] == actor:
            return {"quarter": page["quarter"], "as_of": page["as_of"], **item}
    raise HTTPException(404, f"actor: no action by {actor!r} in {page['quarter']}")
