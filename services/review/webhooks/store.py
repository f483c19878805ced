"""Subscriptions, their delivery stats and dead letters in Redis."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import uuid
from typing import Any

from services.shared.keys import RedisKeys
from services.shared.redis_client import as_text

from ..alerts import STREAM_ID
from .rules import Format, Subscription, WebhookFilter, generic_error

log = logging.getLogger("services.review.webhooks")

DEAD_LETTERS_KEPT = 1000  # per subscription; older ones are trimmed


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


_COUNTERS = ("delivered", "failed_attempts", "dead_letters")


# Stores ARGV[2] under id ARGV[1] unless ARGV[4] subscriptions already have created_by ==
# ARGV[3] ("" for none); counting and storing in one step, so concurrent requests cannot
# both slip under the cap. Returns 1 when stored.
_CREATE_CAPPED = """
local owner, held = ARGV[3], 0
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, sub = pcall(cjson.decode, raw)
  if ok and type(sub) == 'table' then
    local by = sub['created_by']
    if type(by) ~= 'string' then by = '' end
    if by == owner then held = held + 1 end
  end
end
if held >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class TooManySubscriptions(Exception):
    """The caller already holds the most subscriptions allowed."""


class WebhookStore:
    """Subscriptions, their delivery stats and dead letters in Redis."""

    def __init__(self, redis, keys: RedisKeys):
        self.redis = redis
        self.keys = keys
        self._create_capped = redis.register_script(_CREATE_CAPPED)

    async def create(
        self,
        url: str,
        fmt: Format,
        flt: WebhookFilter,
        description: str | None = None,
        created_by: str | None = None,
        *,
        max_per_caller: int | None = None,
    ) -> Subscription:
        """Store a new subscription with a fresh id and secret.

        With ``max_per_caller``, raises TooManySubscriptions when ``created_by`` already
        holds that many.
        """
        sub = Subscription(
            id=f"wh-{uuid.uuid4().hex[:16]}",
            url=url,
            format=fmt,
            filter=flt,
            description=description,
            created_by=created_by,
            created_at=utc_now_iso(),
            secret=f"whsec_{secrets.token_urlsafe(32)}",
        )
        if max_per_caller is None:
            await self.redis.hset(self.keys.webhook_subscriptions(), sub.id, sub.model_dump_json())
        elif not await self._create_capped(
            keys=[self.keys.webhook_subscriptions()],
            args=[sub.id, sub.model_dump_json(), created_by or "", max_per_caller],
        ):
            raise TooManySubscriptions(max_per_caller)
        return sub

    async def get(self, subscription_id: str) -> Subscription | None:
        raw = await self.redis.hget(self.keys.webhook_subscriptions(), subscription_id)
        return Subscription.model_validate_json(raw) if raw is not None else None

    async def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        raw = await self.redis.hgetall(self.keys.webhook_subscriptions())
        subs = []
        for value in raw.values():
            try:
                subs.append(Subscription.model_validate_json(value))
            except ValueError:
                log.warning("skipping an unreadable webhook subscription")
        return sorted(subs, key=lambda s: (s.created_at, s.id))

    async def delete(self, subscription_id: str) -> bool:
        """Remove the subscription, its stats and dead letters; pending jobs are dropped when due."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.webhook_subscriptions(), subscription_id)
            pipe.delete(self.keys.webhook_stats(subscription_id), self.keys.webhook_dead_letters(subscription_id))
            removed, _ = await pipe.execute()
        return bool(removed)

    async def stats(self, subscription_id: str) -> dict[str, Any]:
        """Delivery counters and the last outcome of a subscription."""
        raw: dict[str, Any] = {
            as_text(k): as_text(v)
            for k, v in (await self.redis.hgetall(self.keys.webhook_stats(subscription_id))).items()
        }
        out: dict[str, Any] = {name: int(raw.pop(name, 0)) for name in _COUNTERS}
        if "last_status" in raw:
            raw["last_status"] = int(raw["last_status"]) if raw["last_status"] else None
        if "last_error" in raw:
            raw["last_error"] = generic_error(raw["last_error"]) if raw["last_error"] else None
        return out | raw

    async def dead_letters(
        self, subscription_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Dead letters newest first, and the cursor of the next page (None on the last)."""
        if cursor is not None and not STREAM_ID.match(cursor):
            raise ValueError("cursor: not a cursor returned by this API")
        top = f"({cursor}" if cursor else "+"
        rows = await self.redis.xrevrange(
            self.keys.webhook_dead_letters(subscription_id), max=top, min="-", count=limit + 1
        )
        items = []
        for entry_id, fields in rows[:limit]:
            record = json.loads(fields.get(b"record") or fields.get("record"))
            if record.get("last_error"):
                record["last_error"] = generic_error(record["last_error"])
            items.append({"id": as_text(entry_id)} | record)
        next_cursor = items[-1]["id"] if len(rows) > limit else None
        return items, next_cursor
