"""Short-lived, single-use tokens that open the live alert stream.

A browser's EventSource (and its WebSocket) cannot send headers, so a long-lived key would have
to ride in the URL, where proxies and access logs keep it. Instead the client trades its key
(in a header) for a token that opens one stream: it lives at most 60 s, is redeemed once, and
carries the key's principal (name, role, teams). Tokens live in Redis with a TTL, so every
review instance behind a load balancer can redeem a token another one issued.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

from services.shared.auth import key_digest
from services.shared.keys import RedisKeys

from .access import Principal

MAX_TTL = 60.0  # seconds; the issue's ceiling, also enforced on the setting

# GET and DEL in one step: a token opens one stream, even when two instances race to redeem it.
REDEEM_ONCE = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
return value
"""


def principal_json(principal: Principal) -> str:
    teams = sorted(principal.teams) if principal.teams is not None else None
    return json.dumps({"name": principal.name, "role": principal.role, "teams": teams})


def principal_from_json(raw: bytes | str) -> Principal | None:
    try:
        data = json.loads(raw)
        teams = data["teams"]
        return Principal(
            name=str(data["name"]),
            role=str(data["role"]),
            teams=frozenset(str(t) for t in teams) if teams is not None else None,
        )
    except (TypeError, ValueError, KeyError):
        return None


@dataclass(frozen=True)
class StreamToken:
    token: str
    expires_at: dt.datetime


class StreamTokens:
    """Issues and redeems stream tokens in Redis."""

    def __init__(self, redis, keys: RedisKeys, ttl: float = MAX_TTL):
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"stream token ttl must be in (0, {MAX_TTL:g}] seconds")
        self.redis = redis
        self.keys = keys
        self.ttl = ttl
        self._redeem = redis.register_script(REDEEM_ONCE)

    async def issue(self, principal: Principal, now: dt.datetime) -> StreamToken:
        token = secrets.token_urlsafe(32)
        # Stored by digest: a Redis dump or MONITOR shows no token that would still open a stream.
        await self.redis.set(
            self.keys.stream_token(key_digest(token)), principal_json(principal), px=max(1, int(self.ttl * 1000))
        )
        return StreamToken(token, now + dt.timedelta(seconds=self.ttl))

    async def redeem(self, token: str) -> Principal | None:
        """The token's principal, once; None when it is unknown, already used or expired."""
        if not token or len(token) > 200:
            return None
        raw = await self._redeem(keys=[self.keys.stream_token(key_digest(token))])
        return principal_from_json(raw) if raw is not None else None
