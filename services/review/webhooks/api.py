"""HTTP routes of the outgoing webhooks: subscribe, list, inspect, unsubscribe, dead letters.

Who may do what follows the caller the review app puts on ``request.state.principal``
(``name``, ``role``, ``teams``); without one the request is refused with 401 (an open service
sets its anonymous admin there explicitly). Only admins and managers use these routes: a
``dashboard`` key gets 403, since subscriptions and dead letters show where alerts go. A ``manager`` limited to some teams
subscribes only to alerts of those teams and sees only subscriptions whose team filter lies
within them; subscriptions out of its scope answer 404, as if they did not exist. Only
admins see full URLs (a Slack URL is itself a secret); others see the host.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.shared.keys import RedisKeys

from ..access import Principal, principal_of
from ..routes.common import CursorQ, Limit
from .guard import AddressRefused, Resolver, check_url, system_resolve
from .rules import Format, Subscription, WebhookFilter, host_of, validate_webhook_url
from .settings import WebhookSettings
from .store import TooManySubscriptions, WebhookStore

ROLES = ("admin", "manager", "dashboard")
MANAGING_ROLES = ("admin", "manager")


class WebhookCreate(BaseModel):
    """A subscription request."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/pipeline-review",
                    "format": "json",
                    "filter": {"teams": ["East"], "min_severity": "medium"},
                    "description": "East team discount alerts",
                }
            ]
        },
    )

    url: str = Field(
        max_length=2048, description="Where alerts are POSTed (http or https, a public address, no user:password@)."
    )
    format: Format = Field(
        "json", description="json (the alert in an envelope) or slack (an incoming-webhook message)."
    )
    filter: WebhookFilter = Field(default_factory=WebhookFilter, description="Which alerts to send.")
    description: str | None = Field(None, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_webhook_url(value)


class WebhookOut(BaseModel):
    id: str
    url: str | None = Field(description="The full URL for admins (and in the creation answer); null for others.")
    host: str = Field(description="The URL's host (and port when given).")
    format: Format
    filter: WebhookFilter
    description: str | None
    created_by: str | None
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown only in this answer.")


class WebhookDetail(WebhookOut):
    stats: dict[str, Any] = Field(description="delivered, failed_attempts, dead_letters and the last outcome.")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class DeadLetterPage(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="Newest first: subscription, host (url for admins), alert, attempts, last error."
    )
    next_cursor: str | None


def caller_of(request: Request) -> Principal:
    """The caller from ``request.state.principal``; 401 when there is none, never an admin.

    In open mode the access middleware puts the open admin there explicitly. Anything with
    ``name``, ``role`` and ``teams`` is taken (tests stand in their own) and read as a Principal.
    """
    principal = principal_of(request)
    if isinstance(principal, Principal):
        return principal
    teams = getattr(principal, "teams", None)
    return Principal(
        getattr(principal, "name", None),
        getattr(principal, "role", ""),
        frozenset(teams) if teams is not None else None,
    )


def require_manager(caller: Principal) -> None:
    """403 unless the caller is an admin or a manager: dashboards do not see where alerts go."""
    if caller.role not in MANAGING_ROLES:
        raise HTTPException(403, f"role {caller.role or '(none)'!r} may not use webhooks (admin or manager only)")


def shown(caller: Principal, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (a subscription or dead letter) as ``caller`` may see it: the full URL for admins only."""
    url = record.get("url")
    if not isinstance(url, str):
        return record
    return record | {"url": url if caller.role == "admin" else None, "host": host_of(url)}


def may_see(caller: Principal, flt: WebhookFilter) -> bool:
    """A subscription is in scope when the caller sees all teams or its team filter lies within the caller's."""
    if caller.role not in MANAGING_ROLES:
        return False
    if caller.role == "admin" or caller.teams is None:
        return True
    return flt.teams is not None and set(flt.teams) <= caller.teams


def scoped_filter(caller: Principal, flt: WebhookFilter) -> WebhookFilter:
    """The filter a caller may subscribe with; raises 403 when it reaches beyond the caller's teams.

    A team-limited manager who gives no team filter gets its own teams.
    """
    require_manager(caller)
    if caller.role == "admin" or caller.teams is None:
        return flt
    if "teams" not in flt.model_fields_set:
        return flt.model_copy(update={"teams": sorted(caller.teams)})
    if flt.teams is None or not set(flt.teams) <= caller.teams:
        raise HTTPException(
            403, f"filter.teams: a manager may only subscribe to its own teams ({', '.join(sorted(caller.teams))})"
        )
    return flt


def add_webhook_routes(
    app: FastAPI,
    redis,
    keys: RedisKeys,
    *,
    path: str = "/v1/webhooks",
    settings: WebhookSettings | None = None,
    resolver: Resolver = system_resolve,
) -> WebhookStore:
    """Add the webhook subscription routes to ``app``; returns the store they use.

    ``settings`` default to the review app's (``app.state.settings.webhook``), else the
    environment; ``resolver`` replaces DNS in the URL check (tests).
    """
    if settings is None:
        app_settings = getattr(app.state, "settings", None)
        settings = getattr(app_settings, "webhook", None) or WebhookSettings()
    allow_nets = settings.allowed_networks
    store = WebhookStore(redis, keys)
    router = APIRouter(prefix=path, tags=["webhooks"])

    async def visible(request: Request, subscription_id: str) -> tuple[Principal, Subscription]:
        caller = caller_of(request)
        require_manager(caller)
        sub = await store.get(subscription_id)
        if sub is None or not may_see(caller, sub.filter):
            raise HTTPException(404, f"id: no webhook {subscription_id!r}")
        return caller, sub

    @router.post(
        "",
        status_code=201,
        response_model=WebhookCreated,
        summary="Subscribe a URL to alerts",
        responses={
            403: {"description": "Filter outside the caller's teams, or a read-only caller"},
            409: {"description": "The caller holds the most subscriptions allowed"},
            422: {"description": "Invalid URL (or one reaching a non-public address), format or filter"},
        },
    )
    async def create_webhook(body: WebhookCreate, request: Request, response: Response) -> WebhookCreated:
        caller = caller_of(request)
        flt = scoped_filter(caller, body.filter)
        try:
            await check_url(body.url, allow_nets, resolver)
        except AddressRefused as exc:
            # The same shape as pydantic's own 422s, so clients find the field the same way.
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "url"), "msg": str(exc), "input": body.url}]
            ) from None
        try:
            sub = await store.create(
                body.url, body.format, flt, body.description, caller.name, max_per_caller=settings.max_per_caller
            )
        except TooManySubscriptions:
            raise HTTPException(
                409,
                f"{caller.name or 'this caller'} already holds {settings.max_per_caller} webhook "
                "subscriptions (PR_REVIEW_WEBHOOK_MAX_PER_CALLER); delete one first",
            ) from None
        response.headers["Location"] = f"{path}/{sub.id}"
        # The creator just sent the URL, so the answer echoes it whatever the role.
        return WebhookCreated(**sub.public(), host=host_of(sub.url), secret=sub.secret)

    @router.get(
        "",
        response_model=WebhookPage,
        summary="The subscriptions the caller may see",
        responses={403: {"description": "A dashboard key (or any role but admin and manager)"}},
    )
    async def list_webhooks(request: Request, limit: Limit = 50, cursor: CursorQ = None) -> WebhookPage:
        caller = caller_of(request)
        require_manager(caller)
        subs = [s for s in await store.all() if may_see(caller, s.filter)]
        if cursor is not None:
            ids = [s.id for s in subs]
            if cursor not in ids:
                raise HTTPException(400, "cursor: not a cursor returned by this API")
            subs = subs[ids.index(cursor) + 1 :]
        page = subs[:limit]
        return WebhookPage(
            items=[WebhookOut(**shown(caller, s.public())) for s in page],
            next_cursor=page[-1].id if len(subs) > limit else None,
        )

    @router.get(
        "/{subscription_id}",
        response_model=WebhookDetail,
        summary="A subscription and its delivery stats",
        responses={
            403: {"description": "A dashboard key"},
            404: {"description": "No such webhook (or not in the caller's scope)"},
        },
    )
    async def get_webhook(subscription_id: str, request: Request) -> WebhookDetail:
        caller, sub = await visible(request, subscription_id)
        return WebhookDetail(**shown(caller, sub.public()), stats=await store.stats(sub.id))

    @router.delete(
        "/{subscription_id}",
        status_code=204,
        summary="Unsubscribe",
        responses={403: {"description": "A read-only caller"}, 404: {"description": "No such webhook"}},
    )
    async def delete_webhook(subscription_id: str, request: Request) -> Response:
        _, sub = await visible(request, subscription_id)
        await store.delete(sub.id)
        return Response(status_code=204)

    @router.get(
        "/{subscription_id}/dead-letters",
        response_model=DeadLetterPage,
        summary="Deliveries that failed every attempt, newest first",
        responses={403: {"description": "A dashboard key"}, 404: {"description": "No such webhook"}},
    )
    async def dead_letters(
        subscription_id: str, request: Request, limit: Limit = 50, cursor: CursorQ = None
    ) -> DeadLetterPage:
        caller, sub = await visible(request, subscription_id)
        try:
            items, next_cursor = await store.dead_letters(sub.id, limit, cursor)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return DeadLetterPage(items=[shown(caller, item) for item in items], next_cursor=next_cursor)

    app.include_router(router)
    return store
