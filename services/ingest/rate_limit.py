"""Requests per ingest key (per client address when ingest runs open), with the `limits` package."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


class RateLimited(Exception):
    """Too many requests from one caller (HTTP 429); ``retry_after`` in whole seconds."""

    def __init__(self, who: str, limit: str, retry_after: int):
        super().__init__(f"rate limit {limit} exceeded for {who}; retry after {retry_after} s")
        self.retry_after = retry_after


class RequestRateLimiter:
    """A moving window per caller.

    ``rate`` is a limits rate string (``100/second``, ``5000/minute``); ``storage`` an
    async limits storage URI: ``async+memory://`` (one process) or ``async+redis://host:port/db``
    (replicas share the counters; served through redis-py).
    """

    def __init__(self, rate: str, storage: str = "async+memory://"):
        try:
            self.item = parse(rate)
        except ValueError as exc:
            raise ValueError(f"PR_INGEST_RATE_LIMIT: {exc}") from None
        self.rate = rate
        options = {"implementation": "redispy"} if storage.startswith("async+redis") else {}
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage, **options))

    async def hit(self, who: str) -> None:
        """Count one request of ``who``; raise RateLimited when it is one too many."""
        if await self.limiter.hit(self.item, who):
            return
        reset_at = (await self.limiter.get_window_stats(self.item, who)).reset_time
        raise RateLimited(who, self.rate, max(1, math.ceil(reset_at - time.time())))
