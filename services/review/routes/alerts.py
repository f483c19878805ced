"""The alert feed: paging and polling, acknowledgements, and the live stream over SSE and WebSocket."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from services.shared import tracing

from ..access import OPEN_ADMIN, WS_FORBIDDEN, WS_UNAUTHORIZED, Principal, principal_of
from ..alert_feed import AlertStore
from ..alerts import AckRequest, AlertFilter, AlertItem, AlertPage, BadAlertCursor, is_stream_id, page_cursor
from ..deps import Clock, CurrentPrincipal, Hub, ReviewMetrics, Settings, Store, Tokens
from ..streams import HEARTBEAT, follow
from .common import ACCESS_ERRORS, CursorQ, Kind, Limit, Manager, Problem, Since, Team, teams_in_scope

log = logging.getLogger("services.review")


def delivery_span(name: str, item: Any):
    """The delivery span of a feed item that carries trace context (tracing on only)."""
    return tracing.start_delivery_span(name, getattr(item, "trace", None), {"alert_id": str(item.get("alert_id", ""))})


router = APIRouter()

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

SSE_EXAMPLE = (
    "id: 1763631000123-0\nevent: alert\n"
    'data: {"alert_id": "al-3f9c2a1b7d04e5c6a8b9", "kind": "late_stage_discount", "cursor": "1763631000123-0", '
    '"ack": null, "...": "..."}\n\n: ping - 2026-11-20 09:30:15\n\n'
)


class StreamTokenAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "q3Jx0w8...", "expires_at": "2026-11-20T09:31:00Z"}]}
    )

    token: str = Field(description="Pass as ?token= to /v1/alerts/stream or /v1/alerts/ws; usable once.")
    expires_at: dt.datetime = Field(description="When the token stops opening a stream.")


def alert_filter(
    principal: Principal, team: str | None, manager: str | None, kind: str | None, since: dt.datetime | None
) -> AlertFilter:
    """The feed filter of a request, limited to the caller's teams (403 beyond them)."""
    return AlertFilter(
        teams=teams_in_scope(team, principal),
        manager=manager,
        kinds=frozenset({kind}) if kind is not None else None,
        since=since,
    )


async def resolve_position(store: AlertStore, name: str, value: str) -> str:
    """A stream id from a cursor or an alert id (400 when it is neither)."""
    if is_stream_id(value):
        return "0-0" if value == "0" else value
    position = await store.position(value)
    if position is None:
        raise HTTPException(400, f"{name}: neither a cursor nor a known alert id")
    return position


@router.get(
    "/v1/alerts",
    response_model=AlertPage,
    responses={400: {"model": Problem}, **ACCESS_ERRORS},
    summary="The alert feed, newest first; ?after= for pollers",
    description=ALERTS_DESCRIPTION,
)
async def list_alerts(
    principal: CurrentPrincipal,
    store: Store,
    settings: Settings,
    team: Team = None,
    manager: Manager = None,
    kind: Kind = None,
    since: Since = None,
    limit: Limit = 50,
    cursor: CursorQ = None,
    after: Annotated[str | None, Query(description="An alert_id or cursor: only newer alerts, oldest first.")] = None,
) -> AlertPage:
    flt = alert_filter(principal, team, manager, kind, since)
    if after is not None and cursor is not None:
        raise HTTPException(400, "after: cannot be combined with cursor")
    if after is not None:
        start = await resolve_position(store, "after", after)
        page = await store.oldest_first(flt, limit, start, settings.max_scan_rows)
    else:
        if cursor is not None:
            try:
                page_cursor(cursor)
            except BadAlertCursor as exc:
                raise HTTPException(400, str(exc)) from None
        page = await store.newest_first(flt, limit, cursor, settings.max_scan_rows)
    return AlertPage(items=page.items, next_cursor=page.next_cursor)


@router.post(
    "/v1/alerts/{alert_id}/ack",
    response_model=AlertItem,
    responses={
        404: {"model": Problem, "description": "No such alert (or not in the key's teams)"},
        422: {"description": "`by` missing and the key names nobody (open mode)"},
        **ACCESS_ERRORS,
    },
    summary="Acknowledge an alert (the first acknowledgement is kept)",
    description="Records who acknowledged the alert and when. Acknowledging again changes nothing and "
    "returns the first acknowledgement. `by` defaults to the API key's name. Dashboard keys "
    "cannot acknowledge; manager keys only their teams' alerts (another team's alert is a "
    "404, as if it did not exist).",
)
async def ack_alert(
    alert_id: str,
    principal: CurrentPrincipal,
    store: Store,
    clock: Clock,
    metrics: ReviewMetrics,
    body: Annotated[AckRequest | None, Body()] = None,
) -> AlertItem:
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


@router.post(
    "/v1/alerts/stream-token",
    response_model=StreamTokenAnswer,
    status_code=201,
    responses=ACCESS_ERRORS,
    summary="A short-lived token that opens the live stream (keys never go in URLs)",
    description=STREAM_TOKEN_DESCRIPTION,
)
async def stream_token(principal: CurrentPrincipal, stream_tokens: Tokens, clock: Clock) -> StreamTokenAnswer:
    issued = await stream_tokens.issue(principal, clock())
    return StreamTokenAnswer(token=issued.token, expires_at=issued.expires_at)


@router.get(
    "/v1/alerts/stream",
    summary="Live alerts as Server-Sent Events, resumable",
    description=STREAM_DESCRIPTION,
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {"example": SSE_EXAMPLE}}, "description": "An endless event stream"},
        400: {"model": Problem},
        **ACCESS_ERRORS,
    },
)
async def alert_stream(
    principal: CurrentPrincipal,
    store: Store,
    hub: Hub,
    settings: Settings,
    metrics: ReviewMetrics,
    team: Team = None,
    manager: Manager = None,
    kind: Kind = None,
    since: Since = None,
    cursor: Annotated[str | None, Query(description="Resume after this cursor or alert id.")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
):
    flt = alert_filter(principal, team, manager, kind, since)
    resume = last_event_id or cursor
    start = await resolve_position(store, "Last-Event-ID" if last_event_id else "cursor", resume) if resume else None

    async def events():
        metrics.stream_clients.inc()
        try:
            async for item in follow(store, hub, flt, start):
                span = delivery_span("deliver alert sse", item) if tracing.enabled() else None
                yield {"id": item["cursor"], "event": "alert", "data": json.dumps(item, separators=(",", ":"))}
                if span is not None:
                    span.end()  # the generator resumes once the event was written
        finally:
            metrics.stream_clients.dec()

    return EventSourceResponse(events(), ping=settings.stream_heartbeat, send_timeout=settings.stream_send_timeout)


@router.websocket("/v1/alerts/ws", name="alert_websocket")
async def alert_websocket(
    websocket: WebSocket,
    store: Store,
    hub: Hub,
    settings: Settings,
    metrics: ReviewMetrics,
    team: Team = None,
    manager: Manager = None,
    kind: Kind = None,
    since: Since = None,
    cursor: CursorQ = None,
):
    """JSON messages ``{"type": "alert", "cursor", "alert"}`` and ``{"type": "heartbeat"}``; ``?cursor=`` resumes.

    Opened with an API key in a header or ``?token=`` from ``POST /v1/alerts/stream-token``."""
    await websocket.accept()
    try:
        # Not a dependency: after the handshake a refusal has to be a close code, not an HTTP status.
        flt = alert_filter(principal_of(websocket), team, manager, kind, since)
        start = await resolve_position(store, "cursor", cursor) if cursor else None
    except HTTPException as exc:
        code = {401: WS_UNAUTHORIZED, 403: WS_FORBIDDEN}.get(exc.status_code, 4400)
        await websocket.close(code=code, reason=str(exc.detail)[:120])
        return
    metrics.stream_clients.inc()

    async def send_all() -> None:
        async for item in follow(store, hub, flt, start, heartbeat=settings.stream_heartbeat):
            message = (
                {"type": "heartbeat"}
                if item is HEARTBEAT
                else {"type": "alert", "cursor": item["cursor"], "alert": item}
            )
            span = (
                delivery_span("deliver alert websocket", item) if tracing.enabled() and item is not HEARTBEAT else None
            )
            # A client that cannot take one message in time is dropped, never waited for.
            await asyncio.wait_for(websocket.send_json(message), settings.stream_send_timeout)
            if span is not None:
                span.end()

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
            if (
                not task.cancelled()
                and task.exception() is not None
                and not isinstance(task.exception(), (WebSocketDisconnect, TimeoutError))
            ):
                log.info("websocket stream ended: %r", task.exception())
        with suppress(Exception):
            await websocket.close(code=1013, reason="too slow, resume with ?cursor=")
    finally:
        for task in tasks:
            task.cancel()
        metrics.stream_clients.dec()
