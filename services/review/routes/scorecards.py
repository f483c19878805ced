"""The scorecard per actor and quarter: the scoring worker's row sums in Redis, added up per actor."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Query

from services.domain.quarters import quarter_of
from services.domain.scorecard import Thresholds, add_counts, scorecards_from_sums

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
    sums: dict[str, dict[str, int]] = {}  # actor ("" = the help baseline) -> summed counts
    read = 0
    # One field per (partition, team, actor): a few thousand at most, read in pages.
    async for raw_field, raw in redis.hscan_iter(keys.scorecards(quarter), count=1000):
        read += 1
        if read > settings.scorecard_max_rows:
            raise HTTPException(
                503,
                f"quarter: more than {settings.scorecard_max_rows} scorecard rows (PR_REVIEW_SCORECARD_MAX_ROWS)",
            )
        _partition, row_team, actor = orjson.loads(raw_field)
        if teams is None or row_team in teams:
            add_counts(sums.setdefault(actor, {}), orjson.loads(raw))
    thresholds = Thresholds(settings.scorecard_leader_share, settings.scorecard_discount_intensity)
    return {"quarter": quarter, "as_of": now.isoformat(), "items": scorecards_from_sums(sums, quarter, now, thresholds)}


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
