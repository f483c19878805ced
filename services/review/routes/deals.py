"""The deal card: one deal's state, phase, both scores and its event timeline."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException

from services.domain.movement import with_days_in_stage
from services.shared.cards import DealCard

from ..deps import Clock, CurrentPrincipal, ReadModelKeys, Redis
from .common import ACCESS_ERRORS, Problem

router = APIRouter()


@router.get(
    "/v1/deals/{deal_id}",
    summary="The deal card: state, phase, both scores and the event timeline",
    description="A manager key gets 404 for a deal of another team, as if it did not exist.",
    responses={404: {"model": Problem, "description": "No such deal (or not in the key's teams)"}, **ACCESS_ERRORS},
)
async def deal_card(
    deal_id: str, principal: CurrentPrincipal, redis: Redis, keys: ReadModelKeys, clock: Clock
) -> dict[str, Any]:
    raw = await redis.get(keys.deal(deal_id))
    card: DealCard | None = json.loads(raw) if raw is not None else None
    # 404 rather than 403 for another team's deal: a scoped key must not learn it exists.
    if card is None or not principal.sees_team(card.get("team")):
        raise HTTPException(404, f"deal_id: no deal {deal_id!r}")
    # days_in_stage counts to now, so it is computed as the card is read.
    return with_days_in_stage({k: v for k, v in card.items() if not k.startswith("_")}, clock())
