"""Reading ranked lists from the Redis read model, with keyset cursors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from services.domain.lists import list_item, manager_horizon
from services.domain.movement import with_days_in_stage
from services.shared.keys import FILTER_FIELDS, RedisKeys
from services.shared.redis_client import as_text

Clock = Callable[[], dt.datetime]

MAX_SCAN_ROWS = 5000  # default bound on ranking rows one page reads (PR_REVIEW_MAX_SCAN_ROWS)


class BadCursor(ValueError):
    """The cursor was not produced by this API."""


@dataclass(frozen=True)
class Cursor:
    """Position after the last item served: its score and deal id (ties break by id, descending)."""

    score: float
    member: str

    def encode(self) -> str:
        raw = json.dumps([self.score, self.member], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            score, member = json.loads(base64.urlsafe_b64decode(padded.encode()))
            score = float(score)
        except Exception:  # noqa: BLE001 - any garbage is the client's mistake
            raise BadCursor("cursor: not a cursor returned by this API") from None
        # json accepts NaN and Infinity; no ranking holds them, and Redis refuses nan as a bound.
        if not math.isfinite(score):
            raise BadCursor("cursor: its score is not a finite number")
        return cls(score, str(member))

    def key(self) -> tuple[float, str]:
        """Rank order (both descending): a larger key ranks higher."""
        return (self.score, self.member)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    # Where reading stopped (the next page starts after it); None when the ranking is exhausted.
    stop: Cursor | None = None


async def ranked_page(
    redis, key: str, limit: int, cursor: Cursor | None
) -> tuple[list[tuple[str, float]], Cursor | None]:
    """One page of (member, score) from a sorted set, highest first, after ``cursor``."""
    start = 0
    if cursor is not None:
        rank = await redis.zrevrank(key, cursor.member)
        score = await redis.zscore(key, cursor.member) if rank is not None else None
        if rank is not None and score == cursor.score:
            start = rank + 1
        else:
            # The last item moved since: count what ranks above its old position.
            higher = await redis.zcount(key, f"({cursor.score}", "+inf")
            start = higher + await _ties_above(redis, key, higher, cursor)
    rows = await redis.zrevrange(key, start, start + limit, withscores=True)
    more = len(rows) > limit
    rows = [(as_text(m), float(s)) for m, s in rows[:limit]]
    nxt = Cursor(rows[-1][1], rows[-1][0]) if more and rows else None
    return rows, nxt


async def _ties_above(redis, key: str, first: int, cursor: Cursor) -> int:
    """How many members sharing ``cursor.score`` rank above ``cursor.member``.

    Ties sit at reverse ranks ``first ..`` in descending member order; a binary search reads
    one member per step, so a score shared by a million deals costs ~20 reads, not a million.
    """
    ties = await redis.zcount(key, cursor.score, cursor.score)
    low, high = 0, ties
    while low < high:
        middle = (low + high) // 2
        row = await redis.zrevrange(key, first + middle, first + middle)
        if row and as_text(row[0]) > cursor.member:
            low = middle + 1
        else:
            high = middle
    return low


class ListReader:
    """The leader and manager lists, filtered and paged."""

    def __init__(self, redis, keys: RedisKeys, clock: Clock, horizon_quarters: int = 1, max_scan: int = MAX_SCAN_ROWS):
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.horizon_quarters = horizon_quarters
        self.max_scan = max_scan

    def leader_key(self, dimension: str | None, value: str | None) -> str:
        return self.keys.leader_rank(dimension, value)

    async def manager_key(self, dimension: str | None, value: str | None) -> str:
        quarters = manager_horizon(self.clock().date(), self.horizon_quarters)
        sources = [self.keys.manager_rank(q, dimension, value) for q in quarters]
        if len(sources) == 1:
            return sources[0]
        # Several quarters: a short-lived union, rebuilt at most every few seconds.
        union = f"{self.keys.prefix}:tmp:manager:{'+'.join(quarters)}:{dimension}:{value}"
        if not await self.redis.exists(union):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zunionstore(union, sources, aggregate="MAX")
                pipe.expire(union, 5)
                await pipe.execute()
        return union

    async def page(
        self, which: str, filters: dict[str, str], limit: int, cursor: Cursor | None, min_amount: float | None = None
    ) -> Page:
        """A page of list items, in rank order."""
        dimension, value = next(iter(filters.items())) if filters else (None, None)
        if which == "leader":
            key = self.leader_key(dimension, value)
        elif which == "stalled":
            key = self.keys.stalled_rank(dimension, value)
        else:
            key = await self.manager_key(dimension, value)
        items: list[dict[str, Any]] = []
        next_cursor = cursor
        scanned = 0
        # Filters beyond the first (and min_amount) are applied on the cards; keep reading
        # batches until this page is full, the ranking is exhausted, or max_scan rows were read.
        while True:
            batch = min(limit, self.max_scan - scanned)
            rows, next_cursor = await ranked_page(self.redis, key, batch, next_cursor)
            scanned += len(rows)
            if rows:
                cards = await self.redis.mget([self.keys.deal(m) for m, _ in rows])
                for (member, _score), raw in zip(rows, cards):
                    if raw is None:
                        continue
                    item = with_days_in_stage(list_item(orjson.loads(raw), which), self.clock())  # fast parser
                    if _matches(item, filters, min_amount):
                        items.append(item)
                        if len(items) == limit:
                            last = Cursor(_score, member)
                            more = next_cursor is not None or member != rows[-1][0]
                            return Page(items, last.encode() if more else None, last if more else None)
            if next_cursor is None:
                return Page(items, None)
            if scanned >= self.max_scan:
                # Bounded: the page is not full, but the client continues from the last row read.
                return Page(items, next_cursor.encode(), next_cursor)


def _matches(item: dict[str, Any], filters: dict[str, str], min_amount: float | None) -> bool:
    if any(str(item.get(FILTER_FIELDS[dim], "")) != value for dim, value in filters.items()):
        return False
    return min_amount is None or float(item.get("amount") or 0) >= min_amount


async def page_across_teams(
    reader: ListReader,
    which: str,
    teams: frozenset[str],
    filters: dict[str, str],
    limit: int,
    cursor: Cursor | None,
    min_amount: float | None = None,
) -> Page:
    """One page of a list restricted to several teams (a manager key's scope).

    Each team's ranking is read from the same keyset position and the pages are merged in
    the rankings' own order (score, then deal id, both descending); a deal has one team, so
    nothing is seen twice, and the merged page's last item is a valid cursor for every team.
    """
    pages = [await reader.page(which, {"team": team, **filters}, limit, cursor, min_amount) for team in sorted(teams)]
    # A team's page is complete only down to where its reading stopped; the merged page is
    # complete down to the earliest such stop, so nothing ranked below it may be served yet.
    stops = [p.stop for p in pages if p.stop is not None]
    stop = max(stops, key=Cursor.key) if stops else None
    merged = sorted(
        (
            item
            for p in pages
            for item in p.items
            if stop is None or (float(item["score"]), item["deal_id"]) >= stop.key()
        ),
        key=lambda item: (float(item["score"]), item["deal_id"]),
        reverse=True,
    )
    if len(merged) > limit:
        merged = merged[:limit]
        return Page(merged, Cursor(float(merged[-1]["score"]), merged[-1]["deal_id"]).encode())
    if stop is None:
        return Page(merged, None)
    return Page(merged, stop.encode(), stop)
