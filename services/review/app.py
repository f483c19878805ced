"""The review HTTP service: the composition root, the list routes and the alert feed routes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import Body, FastAPI, Header, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, make_asgi_app
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from services.domain.movement import with_days_in_stage
from services.shared.kafka_config import kafka_client_options
from services.shared.log_redaction import install_log_redaction
from services.shared.redis_client import REDIS_UNAVAILABLE, redis_client

from .access import OPEN_ADMIN, WS_FORBIDDEN, WS_UNAUTHORIZED, AccessMiddleware, KeyTable, Principal, principal_of
from .alert_feed import AlertIngestor, AlertStore, AlertTrimmer
from .alerts import (
    AckRequest,
    AlertFilter,
    AlertItem,
    AlertPage,
    BadAlertCursor,
    StreamMessage,
    is_stream_id,
    page_cursor,
    scoped_teams,
)
from .lists import BadCursor, Clock, Cursor, ListReader, page_across_teams
from .dashboard import add_dashboard_routes
from .routes import movement as movement_routes
from .settings import ReviewSettings
from .stream_tokens import StreamTokens
from .streams import HEARTBEAT, AlertHub, follow
from .webhooks import WebhookDispatcher
from .webhooks_api import add_webhook_routes

log = logging.getLogger("services.review")


class ListPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"deal_id": "api:acme-expansion", "name": "Acme expansion", "account": "Acme", "owner_id": "u-17",
                   "team": "Central", "stage": "Prospecting", "phase": "early", "amount": 120000.0,
                   "potential_value": 120000.0, "close_date": "2027-03-31", "score": 60000.0,
                   "score_parts": {"potential_value": 120000.0, "winnability": 0.5}, "questions": ["..."]}],
        "as_of": "2026-11-20T09:30:00Z", "next_cursor": None}]})

    items: list[dict[str, Any]] = Field(description="Deals in rank order.")
    as_of: dt.datetime = Field(description="When this answer was read.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class Problem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "team: this key may not read team 'West'"}]})

    detail: str


# Query parameters shared by the list and alert routes.
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, at most 500).")]
CursorQ = Annotated[str | None, Query(description="next_cursor of the previous page.")]
Team = Annotated[str | None, Query(description="Only deals of this team.")]
Owner = Annotated[str | None, Query(description="Only deals of this owner id.")]
Manager = Annotated[str | None, Query(description="Only deals of this manager id.")]
MinAmount = Annotated[float | None, Query(ge=0, allow_inf_nan=False,
                                          description="Only deals with at least this amount (a finite number).")]
Kind = Annotated[str | None, Query(description="Only alerts of this kind (late_stage_discount, discount_info, "
                                                "close_date_pushed, qualification_gap, stalled).")]
Since = Annotated[dt.datetime | None, Query(description="Only alerts that occurred at or after this ISO datetime (naive = UTC).")]

ACCESS_ERRORS = {401: {"model": Problem, "description": "No or unknown API key"},
                 403: {"model": Problem, "description": "The key's role or teams do not allow this"}}

ALERTS_DESCRIPTION = """The alert feed, newest first, paged with `?cursor=` (the `next_cursor` of the previous page).

**Polling** — `?after=<alert_id or cursor>` returns only the alerts newer than that one, **oldest first**,
so a poller never misses one: process the items in order; while `next_cursor` is not null ask again at once
with `?after=<next_cursor>`; when it is null the poller has caught up and asks next time with the `cursor` of
the last item. `after` and `cursor` cannot be combined.

A page reads at most `PR_REVIEW_MAX_SCAN_ROWS` feed entries: with filters that match few alerts it can come
back short, even empty, with a `next_cursor` to continue from. Only a null `next_cursor` means the end.

A manager key sees only its teams' alerts (a `team` outside them is 403)."""

STREAM_DESCRIPTION = """Server-Sent Events: each alert is sent as `id: <cursor>`, `event: alert`, `data: <feed item JSON>`;
comment lines (`: ping ...`) are heartbeats. Reconnecting with `Last-Event-ID` (browsers do it by themselves)
or `?cursor=` first replays, oldest first, every alert after that cursor, then follows live: no gaps, no
duplicates. Without either, the stream starts with alerts arriving from now on. A client that falls too far
behind is disconnected; it resumes with its last id.

Credentials: an API key in a header (`X-API-Key` or `Authorization: Bearer`), or — for browsers, whose
EventSource cannot set headers — `?token=` from `POST /v1/alerts/stream-token`. A token opens one stream, once,
within its lifetime (at most 60 s); a client that reconnects fetches a new one and resumes with `?cursor=`."""

STREAM_TOKEN_DESCRIPTION = """Trade the API key (sent in a header) for a short-lived token that opens the live stream:
`GET /v1/alerts/stream?token=...` or `/v1/alerts/ws?token=...`. The token carries the key's name, role and teams,
opens one stream, once, and expires after `PR_REVIEW_STREAM_TOKEN_TTL` seconds (at most 60). It opens nothing
else. Any review instance sharing the Redis accepts it."""

SSE_EXAMPLE = ("id: 1763631000123-0\nevent: alert\n"
               'data: {"alert_id": "al-3f9c2a1b7d04e5c6a8b9", "kind": "late_stage_discount", "cursor": "1763631000123-0", '
               '"ack": null, "...": "..."}\n\n: ping - 2026-11-20 09:30:15\n\n')


# Seconds a client is asked to wait when Redis is unavailable: about a Redis restart from its
# append-only file, and twice the worker's longest retry pause.
REDIS_RETRY_AFTER = 5


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Metrics:
    """The review service's Prometheus metrics, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stream_clients = Gauge("review_stream_clients", "Live alert stream clients connected.",
                                    registry=self.registry)
        self.stream_dropped = Counter("review_stream_dropped_total", "Live-stream clients dropped for falling behind.",
                                      registry=self.registry)
        self.acks = Counter("review_alert_acks_total", "Alert acknowledgements recorded.", registry=self.registry)


class StreamTokenAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"token": "q3Jx0w8...", "expires_at": "2026-11-20T09:31:00Z"}]})

    token: str = Field(description="Pass as ?token= to /v1/alerts/stream or /v1/alerts/ws; usable once.")
    expires_at: dt.datetime = Field(description="When the token stops opening a stream.")


def create_app(settings: ReviewSettings | None = None, clock: Clock = utc_now, redis=None) -> FastAPI:
    """Wire Redis, Kafka, the clock, access control and the routes."""
    settings = settings or ReviewSettings()
    redis = redis or redis_client(settings.common)
    keys = settings.common.keys
    webhooks = WebhookDispatcher(redis, keys, settings.webhook)
    lists = ListReader(redis, keys, clock, settings.manager_horizon_quarters, settings.max_scan_rows)
    stream_tokens = StreamTokens(redis, keys, settings.stream_token_ttl)
    store = AlertStore(redis, keys)
    metrics = Metrics()
    hub = AlertHub(store, settings.stream_queue_size, on_drop=metrics.stream_dropped.inc)
    key_table = KeyTable.from_settings(settings.api_keys.get_secret_value() if settings.api_keys else None,
                                       settings.api_keys_file)
    ingestor = (AlertIngestor(store, settings.common.kafka_bootstrap, settings.common.deal_alerts_topic,
                              settings.common.topic_prefix + settings.alert_group,
                              retention_days=settings.alert_retention_days,
                              client_options=kafka_client_options(settings.common))
                if settings.alert_feed_enabled else None)
    trimmer = AlertTrimmer(store, settings.alert_retention_days, settings.alert_trim_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Again here, after uvicorn configured its loggers (idempotent).
        install_log_redaction()
        if key_table.open:
            log.warning("NO API KEYS CONFIGURED: review is OPEN, every caller is an admin. "
                        "Set PR_REVIEW_API_KEYS or PR_REVIEW_API_KEYS_FILE.")
        hub.start()
        trimmer.start()
        if ingestor is not None:
            ingestor.start()
        if settings.webhook.enabled:
            await webhooks.start()
        try:
            yield
        finally:
            await webhooks.stop()
            if ingestor is not None:
                await ingestor.stop()
            await hub.stop()
            await trimmer.stop()
            await redis.aclose()

    app = FastAPI(
        title="Pipeline Review — review",
        version="1",
        description="The leader list beside the manager list, deal cards and late-stage discount alerts.\n\n"
                    "Every /v1 route needs an API key in a header (`X-API-Key` or `Authorization: Bearer`; never "
                    "in the URL) unless the service runs open (no keys configured). The live stream also takes a "
                    "short-lived `?token=` from `POST /v1/alerts/stream-token`. Roles: admin; manager (its teams "
                    "only); dashboard (read-only).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.lists = lists
    app.state.alert_store = store
    app.state.alert_hub = hub
    app.state.alert_ingestor = ingestor
    app.state.alert_trimmer = trimmer
    app.state.keys = key_table
    app.state.metrics = metrics
    app.state.stream_tokens = stream_tokens
    install_log_redaction()
    app.add_middleware(AccessMiddleware, keys=key_table, redeem_token=stream_tokens.redeem)

    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A route that needs Redis while it is down or not answering (redis_timeout): the
        # outage is temporary and the caller should come back, so 503 rather than 500.
        log.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"the read model (Redis) is unavailable, retry shortly: {exc}"},
                            status_code=503, headers={"Retry-After": str(REDIS_RETRY_AFTER)})

    for error in REDIS_UNAVAILABLE:
        app.add_exception_handler(error, redis_unavailable)
    app.mount("/metrics", make_asgi_app(registry=metrics.registry))

    # ---- lists and deal cards --------------------------------------------------------------

    async def list_page(request: Request, which: str, team: str | None, owner: str | None, manager: str | None,
                        min_amount: float | None, limit: int, cursor: str | None) -> ListPage:
        principal = principal_of(request)
        try:
            teams = scoped_teams(team, principal.teams)
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        try:
            position = Cursor.decode(cursor) if cursor else None
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None
        others = {k: v for k, v in (("owner", owner), ("manager", manager)) if v}
        as_of = clock()
        if teams is not None and len(teams) > 1:
            page = await page_across_teams(lists, which, teams, others, limit, position, min_amount)
        else:
            filters = ({"team": next(iter(teams))} if teams else {}) | others
            page = await lists.page(which, filters, limit, position, min_amount)
        return ListPage(items=page.items, as_of=as_of, next_cursor=page.next_cursor)

    @app.get("/v1/lists/leader", response_model=ListPage, responses=ACCESS_ERRORS,
             summary="Early-stage deals by potential value × winnability")
    async def leader_list(request: Request, team: Team = None, owner: Owner = None, manager: Manager = None,
                          min_amount: MinAmount = None, limit: Limit = 50, cursor: CursorQ = None) -> ListPage:
        return await list_page(request, "leader", team, owner, manager, min_amount, limit, cursor)

    @app.get("/v1/lists/manager", response_model=ListPage, responses=ACCESS_ERRORS,
             summary="Deals closing this quarter, largest amount first")
    async def manager_list(request: Request, team: Team = None, owner: Owner = None, manager: Manager = None,
                           min_amount: MinAmount = None, limit: Limit = 50, cursor: CursorQ = None) -> ListPage:
        return await list_page(request, "manager", team, owner, manager, min_amount, limit, cursor)

    @app.get("/v1/deals/{deal_id}", summary="The deal card: state, phase, both scores and the event timeline",
             description="A manager key gets 404 for a deal of another team, as if it did not exist.",
             responses={404: {"model": Problem, "description": "No such deal (or not in the key's teams)"},
                        **ACCESS_ERRORS})
    async def deal_card(request: Request, deal_id: str) -> dict[str, Any]:
        raw = await redis.get(keys.deal(deal_id))
        card = json.loads(raw) if raw is not None else None
        # 404 rather than 403 for another team's deal: a scoped key must not learn it exists.
        if card is None or not principal_of(request).sees_team(card.get("team")):
            raise HTTPException(404, f"deal_id: no deal {deal_id!r}")
        return with_days_in_stage({k: v for k, v in card.items() if not k.startswith("_")}, clock())

    # ---- alerts -----------------------------------------------------------------------------

    def alert_filter(principal: Principal, team: str | None, manager: str | None, kind: str | None,
                     since: dt.datetime | None) -> AlertFilter:
        try:
            teams = scoped_teams(team, principal.teams)
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        return AlertFilter(teams=teams, manager=manager, kind=kind, since=since)

    async def resolve_position(name: str, value: str) -> str:
        """A stream id from a cursor or an alert id (400 when it is neither)."""
        if is_stream_id(value):
            return "0-0" if value == "0" else value
        position = await store.position(value)
        if position is None:
            raise HTTPException(400, f"{name}: neither a cursor nor a known alert id")
        return position

    @app.get("/v1/alerts", response_model=AlertPage, responses={400: {"model": Problem}, **ACCESS_ERRORS},
             summary="The alert feed, newest first; ?after= for pollers", description=ALERTS_DESCRIPTION)
    async def list_alerts(request: Request, team: Team = None, manager: Manager = None, kind: Kind = None,
                          since: Since = None, limit: Limit = 50, cursor: CursorQ = None,
                          after: Annotated[str | None, Query(description="An alert_id or cursor: only newer alerts, oldest first.")] = None,
                          ) -> AlertPage:
        flt = alert_filter(principal_of(request), team, manager, kind, since)
        if after is not None and cursor is not None:
            raise HTTPException(400, "after: cannot be combined with cursor")
        if after is not None:
            page = await store.oldest_first(flt, limit, await resolve_position("after", after), settings.max_scan_rows)
        else:
            if cursor is not None:
                try:
                    page_cursor(cursor)
                except BadAlertCursor as exc:
                    raise HTTPException(400, str(exc)) from None
            page = await store.newest_first(flt, limit, cursor, settings.max_scan_rows)
        return AlertPage(items=page.items, next_cursor=page.next_cursor)

    @app.post("/v1/alerts/{alert_id}/ack", response_model=AlertItem,
              responses={404: {"model": Problem, "description": "No such alert (or not in the key's teams)"},
                         422: {"description": "`by` missing and the key names nobody (open mode)"}, **ACCESS_ERRORS},
              summary="Acknowledge an alert (the first acknowledgement is kept)",
              description="Records who acknowledged the alert and when. Acknowledging again changes nothing and "
                          "returns the first acknowledgement. `by` defaults to the API key's name. Dashboard keys "
                          "cannot acknowledge; manager keys only their teams' alerts (another team's alert is a "
                          "404, as if it did not exist).")
    async def ack_alert(request: Request, alert_id: str,
                        body: Annotated[AckRequest | None, Body()] = None) -> AlertItem:
        principal = principal_of(request)
        if not principal.can_write:
            raise HTTPException(403, "this key is read-only (dashboard)")
        item = await store.get(alert_id)
        # Another team's alert answers exactly like an unknown one: a scoped key must not learn it exists.
        if item is None or not principal.sees_team(item.get("team")):
            raise HTTPException(404, f"alert_id: no alert {alert_id!r}")
        by = body.by if body is not None and body.by else None
        if by is None:
            if principal is OPEN_ADMIN:
                raise HTTPException(422, "by: required (no API key names the caller)")
            by = principal.name
        ack = await store.ack(alert_id, by, clock())
        if ack is None:
            raise HTTPException(404, f"alert_id: no alert {alert_id!r}")
        metrics.acks.inc()
        return AlertItem.model_validate({**item, "ack": ack})

    @app.post("/v1/alerts/stream-token", response_model=StreamTokenAnswer, status_code=201, responses=ACCESS_ERRORS,
              summary="A short-lived token that opens the live stream (keys never go in URLs)",
              description=STREAM_TOKEN_DESCRIPTION)
    async def stream_token(request: Request) -> StreamTokenAnswer:
        issued = await stream_tokens.issue(principal_of(request), clock())
        return StreamTokenAnswer(token=issued.token, expires_at=issued.expires_at)

    @app.get("/v1/alerts/stream", summary="Live alerts as Server-Sent Events, resumable",
             description=STREAM_DESCRIPTION, response_class=EventSourceResponse,
             responses={200: {"content": {"text/event-stream": {"example": SSE_EXAMPLE}},
                              "description": "An endless event stream"},
                        400: {"model": Problem}, **ACCESS_ERRORS})
    async def alert_stream(request: Request, team: Team = None, manager: Manager = None, kind: Kind = None,
                           since: Since = None,
                           cursor: Annotated[str | None, Query(description="Resume after this cursor or alert id.")] = None,
                           last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None):
        flt = alert_filter(principal_of(request), team, manager, kind, since)
        resume = last_event_id or cursor
        start = await resolve_position("Last-Event-ID" if last_event_id else "cursor", resume) if resume else None

        async def events():
            metrics.stream_clients.inc()
            try:
                async for item in follow(store, hub, flt, start):
                    yield {"id": item["cursor"], "event": "alert", "data": json.dumps(item, separators=(",", ":"))}
            finally:
                metrics.stream_clients.dec()

        return EventSourceResponse(events(), ping=settings.stream_heartbeat, send_timeout=settings.stream_send_timeout)

    @app.websocket("/v1/alerts/ws", name="alert_websocket")
    async def alert_websocket(websocket: WebSocket, team: Team = None, manager: Manager = None, kind: Kind = None,
                              since: Since = None, cursor: CursorQ = None):
        """JSON messages ``{"type": "alert", "cursor", "alert"}`` and ``{"type": "heartbeat"}``; ``?cursor=`` resumes.

        Opened with an API key in a header or ``?token=`` from ``POST /v1/alerts/stream-token``."""
        await websocket.accept()
        try:
            flt = alert_filter(principal_of(websocket), team, manager, kind, since)
            start = await resolve_position("cursor", cursor) if cursor else None
        except HTTPException as exc:
            code = {401: WS_UNAUTHORIZED, 403: WS_FORBIDDEN}.get(exc.status_code, 4400)
            await websocket.close(code=code, reason=str(exc.detail)[:120])
            return
        metrics.stream_clients.inc()

        async def send_all() -> None:
            async for item in follow(store, hub, flt, start, heartbeat=settings.stream_heartbeat):
                message = ({"type": "heartbeat"} if item is HEARTBEAT
                           else {"type": "alert", "cursor": item["cursor"], "alert": item})
                # A client that cannot take one message in time is dropped, never waited for.
                await asyncio.wait_for(websocket.send_json(message), settings.stream_send_timeout)

        async def until_closed() -> None:
            with suppress(WebSocketDisconnect):
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass

        tasks = [asyncio.create_task(send_all()), asyncio.create_task(until_closed())]
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None and \
                        not isinstance(task.exception(), (WebSocketDisconnect, TimeoutError)):
                    log.info("websocket stream ended: %r", task.exception())
            with suppress(Exception):
                await websocket.close(code=1013, reason="too slow, resume with ?cursor=")
        finally:
            for task in tasks:
                task.cancel()
            metrics.stream_clients.dec()

    def openapi() -> dict[str, Any]:
        # OpenAPI cannot describe a WebSocket route: publish its message shape as a component.
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {})["StreamMessage"] = \
                StreamMessage.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi

    # ---- outgoing webhooks and the dashboard page (both read request.state.principal) ---------
    app.state.webhooks = webhooks
    app.include_router(movement_routes.router)  # /v1/pipeline/flow, /v1/lists/stalled
    add_webhook_routes(app, redis, keys)
    add_dashboard_routes(app)

    # ---- health -----------------------------------------------------------------------------

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "service": "review"}

    @app.get("/readyz", summary="Readiness: Redis reachable and the alert consumer started",
             description="503 until Redis answers and the alert consumer has connected once. A consumer that "
                         "later loses Kafka is reported as `reconnecting` without failing readiness: the lists "
                         "and the feed already in Redis are still served.",
             responses={200: {"content": {"application/json": {"example": {
                 "status": "ready", "alert_feed": {"state": "running", "group": "pr-review-alerts",
                                                   "topic": "deal-alerts", "assigned_partitions": 3, "appended": 12,
                                                   "duplicates": 1, "rejected": 0, "error": None},
                 "stream_clients": 2}}}},
                 503: {"description": "Not ready"}})
    async def readyz() -> JSONResponse:
        feed = ingestor.status() if ingestor is not None else {"state": "disabled"}
        body = {"alert_feed": feed, "stream_clients": len(hub.subscribers)}
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": f"redis unavailable: {exc}", **body}, status_code=503)
        if ingestor is not None and not ingestor.ever_started:
            return JSONResponse({"status": "alert consumer not started yet", **body}, status_code=503)
        return JSONResponse({"status": "ready", **body})

    return app
