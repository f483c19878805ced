"""The review HTTP service: the composition root and the list routes."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .lists import BadCursor, Clock, Cursor, ListReader
from .settings import ReviewSettings


class ListPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Deals in rank order.")
    as_of: dt.datetime = Field(description="When this answer was read.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


# Query parameters shared by the list routes.
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, at most 500).")]
CursorQ = Annotated[str | None, Query(description="next_cursor of the previous page.")]
Team = Annotated[str | None, Query(description="Only deals of this team.")]
Owner = Annotated[str | None, Query(description="Only deals of this owner id.")]
Manager = Annotated[str | None, Query(description="Only deals of this manager id.")]
MinAmount = Annotated[float | None, Query(ge=0, description="Only deals with at least this amount.")]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_app(settings: ReviewSettings | None = None, clock: Clock = utc_now, redis=None) -> FastAPI:
    """Wire Redis, the clock and the routes."""
    settings = settings or ReviewSettings()
    redis = redis or aioredis.Redis.from_url(settings.common.redis_url)
    lists = ListReader(redis, settings.common.keys, clock, settings.manager_horizon_quarters)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await redis.aclose()

    app = FastAPI(
        title="Pipeline Review — review",
        version="1",
        description="The leader list beside the manager list, deal cards and late-stage discount alerts.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.lists = lists

    async def list_page(which: str, team: str | None, owner: str | None, manager: str | None,
                        min_amount: float | None, limit: int, cursor: str | None) -> ListPage:
        filters = {k: v for k, v in (("team", team), ("owner", owner), ("manager", manager)) if v}
        try:
            position = Cursor.decode(cursor) if cursor else None
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None
        as_of = clock()
        page = await lists.page(which, filters, limit, position, min_amount)
        return ListPage(items=page.items, as_of=as_of, next_cursor=page.next_cursor)

    @app.get("/v1/lists/leader", response_model=ListPage, summary="Early-stage deals by potential value × winnability")
    async def leader_list(team: Team = None, owner: Owner = None, manager: Manager = None,
                          min_amount: MinAmount = None, limit: Limit = 50, cursor: CursorQ = None) -> ListPage:
        return await list_page("leader", team, owner, manager, min_amount, limit, cursor)

    @app.get("/v1/lists/manager", response_model=ListPage, summary="Deals closing this quarter, largest amount first")
    async def manager_list(team: Team = None, owner: Owner = None, manager: Manager = None,
                           min_amount: MinAmount = None, limit: Limit = 50, cursor: CursorQ = None) -> ListPage:
        return await list_page("manager", team, owner, manager, min_amount, limit, cursor)

    @app.get("/v1/deals/{deal_id}", summary="The deal card: state, phase, both scores and the event timeline",
             responses={404: {"description": "No such deal"}})
    async def deal_card(deal_id: str) -> dict[str, Any]:
        raw = await redis.get(settings.common.keys.deal(deal_id))
        if raw is None:
            raise HTTPException(404, f"deal_id: no deal {deal_id!r}")
        return {k: v for k, v in json.loads(raw).items() if not k.startswith("_")}

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "service": "review"}

    @app.get("/readyz", summary="Readiness: Redis reachable")
    async def readyz() -> JSONResponse:
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": f"redis unavailable: {exc}"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app
