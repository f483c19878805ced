"""API keys, roles and team scopes of the review service.

Keys come from ``PR_REVIEW_API_KEYS`` and/or ``PR_REVIEW_API_KEYS_FILE``:

- env, JSON: ``[{"key": "k1", "role": "manager", "teams": ["East", "West"], "name": "ana"}]``;
- env, compact: ``k1:admin,k2:manager:East|West,k3:dashboard`` (the name is derived from the role
  and teams, e.g. ``manager:East|West``);
- file: the same JSON list (or ``{"keys": [...]}``) in a ``.json`` file, or ``[[keys]]`` tables in
  a ``.toml`` file.

The formats, the digest lookup and the header rule are :mod:`services.shared.auth`'s;
this module says what an entry means here (a role and teams).

Roles: ``admin`` (everything), ``manager`` (read and ack, only the deals and alerts of its
teams), ``dashboard`` (read everything, never writes). With no key configured at all the
service runs open: every caller is an anonymous admin.

Keys travel only in headers. A browser's EventSource and WebSocket cannot set headers, so the
live stream takes a short-lived, single-use token instead (``?token=``, see :mod:`.stream_tokens`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from services.shared import auth as shared_auth
from services.shared.auth import KeyConfigError, check_key, entry_where, key_from_headers

log = logging.getLogger("services.review.access")


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    DASHBOARD = "dashboard"


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``teams`` None means every team."""

    name: str
    role: str
    teams: frozenset[str] | None = None

    def sees_team(self, team: str | None) -> bool:
        """May this caller read deals and alerts of ``team``?"""
        return self.teams is None or (team or "") in self.teams

    @property
    def can_write(self) -> bool:
        """Dashboards only read; admins and managers may ack."""
        return self.role in (Role.ADMIN, Role.MANAGER)


OPEN_ADMIN = Principal(name="anonymous", role=Role.ADMIN, teams=None)


KEYS_VARIABLE = "PR_REVIEW_API_KEYS"


def _compact(fields: list[str], where: str) -> dict[str, Any]:
    if len(fields) not in (2, 3):
        raise KeyConfigError(f"{where}: expected key:role[:team1|team2]")
    return {"key": fields[0], "role": fields[1], "teams": fields[2] if len(fields) == 3 else None, "_where": where}


def _review_key(raw: dict[str, Any], index: int) -> tuple[str, Principal]:
    """One raw entry (already checked for a key) as a key and its principal: role, teams, name."""
    where = entry_where(raw, f"{KEYS_VARIABLE} entry {index + 1}")
    key = check_key(raw.get("key"), where)
    try:
        role = Role(str(raw.get("role", "")))
    except ValueError:
        raise KeyConfigError(f"{where}: role must be one of admin, manager, dashboard") from None
    teams = raw.get("teams")
    if isinstance(teams, str):
        teams = [t for t in teams.split("|") if t]
    if role is Role.MANAGER:
        if not teams:
            raise KeyConfigError(f"{where}: a manager key needs at least one team")
        scope: frozenset[str] | None = frozenset(str(t) for t in teams)
    else:
        if teams:
            raise KeyConfigError(f"{where}: only manager keys are scoped to teams")
        scope = None
    name = str(raw.get("name") or (f"{role.value}:{'|'.join(sorted(scope))}" if scope else role.value))
    return key, Principal(name=name, role=role.value, teams=scope)


def _principals(entries: list[dict[str, Any]]) -> list[tuple[str, Principal]]:
    return [_review_key(raw, index) for index, raw in enumerate(entries)]


def parse_keys_text(text: str) -> list[tuple[str, Principal]]:
    """Parse ``PR_REVIEW_API_KEYS``: a JSON list, or ``key:role[:team1|team2]`` comma separated."""
    return _principals(shared_auth.parse_keys_text(text, KEYS_VARIABLE, _compact))


def load_keys_file(path: Path) -> list[tuple[str, Principal]]:
    """Parse a ``.json`` or ``.toml`` key file (``[[keys]]`` tables in TOML)."""
    return _principals(shared_auth.load_keys_file(path))


class KeyTable(shared_auth.KeyTable[Principal]):
    """Resolves an API key to a principal; empty means open mode, where every caller is :data:`OPEN_ADMIN`."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]):
        super().__init__(entries, name_of=lambda principal: principal.name)

    @property
    def open(self) -> bool:
        return self.empty

    def resolve(self, key: str | None) -> Principal | None:
        """The principal of ``key``; None when the key is missing or unknown; the open admin in open mode."""
        if self.open:
            return OPEN_ADMIN
        return super().resolve(key)

    @classmethod
    def from_settings(cls, text: str | None, path: Path | None) -> KeyTable:
        return cls(_principals(shared_auth.load_entries(text, path, KEYS_VARIABLE, _compact)))


def principal_of(request: Any) -> Principal:
    """The caller the access middleware resolved; 401 when there is none (open mode sets one explicitly).

    ``request`` is a Starlette Request or WebSocket (anything with ``.state``).
    """
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(401, "missing or unknown API key (X-API-Key or Authorization: Bearer)")
    return principal


# Paths that never need a key: probes, metrics, the API description and the dashboard page.
# Matched exactly (``/metrics`` is not a prefix); only the static files are a prefix.
OPEN_PATHS = frozenset(
    {
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/metrics/",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/favicon.ico",
    }
)
OPEN_PREFIXES = ("/static/",)

# The only routes a stream token opens.
STREAM_PATHS = frozenset({"/v1/alerts/stream", "/v1/alerts/ws"})


def is_open_path(path: str) -> bool:
    if path in OPEN_PATHS:
        return True
    # A dot segment would let a prefix stand for another route (/static/../v1/alerts).
    segments = path.split("/")
    return path.startswith(OPEN_PREFIXES) and "." not in segments and ".." not in segments


def token_from_query(query_string: bytes) -> str | None:
    """The stream token from ``?token=`` (EventSource and browser WebSockets cannot set headers)."""
    values = parse_qs(query_string.decode("latin-1")).get("token")
    return values[0] if values else None


# WebSocket close codes for refused connections (the HTTP status is not visible to browsers).
WS_UNAUTHORIZED = 4401
WS_FORBIDDEN = 4403


class TokenStoreUnavailable(RuntimeError):
    """The stream-token store could not be asked (Redis down)."""


# Redeems a stream token: its principal, or None when it is unknown, used or expired.
TokenRedeemer = Callable[[str], Awaitable[Principal | None]]


class AccessMiddleware:
    """Puts the caller's :class:`Principal` on ``request.state.principal``; 401 without a valid credential.

    In open mode (no keys configured) the principal is set to :data:`OPEN_ADMIN` here, explicitly;
    everywhere else a request without a principal is refused.
    """

    def __init__(self, app: ASGIApp, keys: KeyTable, redeem_token: TokenRedeemer | None = None):
        self.app = app
        self.keys = keys
        self.redeem_token = redeem_token

    async def principal(self, scope: Scope, headers: dict[str, str]) -> Principal | None:
        if self.keys.open:
            return OPEN_ADMIN
        key = key_from_headers(headers)
        if key:
            return self.keys.resolve(key)
        token = token_from_query(scope.get("query_string", b"")) if scope["path"] in STREAM_PATHS else None
        if token and self.redeem_token is not None:
            try:
                return await self.redeem_token(token)
            except Exception as exc:  # noqa: BLE001 - the token store (Redis) is down: 503, not 500
                raise TokenStoreUnavailable() from exc
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            principal = await self.principal(scope, headers)
        except TokenStoreUnavailable:
            log.warning("cannot redeem a stream token: the token store (Redis) is unavailable")
            await self._refuse(
                scope,
                receive,
                send,
                503,
                1013,
                "stream tokens cannot be checked right now (Redis unavailable); retry shortly",
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        if principal is not None or is_open_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        detail = (
            "missing, unknown, used or expired stream token (?token=, from POST /v1/alerts/stream-token) "
            "or API key (X-API-Key, Authorization: Bearer)"
            if scope["path"] in STREAM_PATHS
            else "missing or unknown API key (X-API-Key or Authorization: Bearer)"
        )
        await self._refuse(scope, receive, send, 401, WS_UNAUTHORIZED, detail)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, ws_code: int, detail: str) -> None:
        if scope["type"] == "websocket":
            # Accept then close with a code the client can read: a refused handshake is opaque.
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": ws_code, "reason": detail[:120]})
            return
        headers = [(b"content-type", b"application/json")]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})
