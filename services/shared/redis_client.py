"""The one way services open the Redis read model: with bounded socket timeouts.

Without them a Redis that stops answering (a network cut, a stuck server) leaves every
request waiting on its socket for ever; with them a call fails fast with a
``redis.exceptions.TimeoutError``, which review turns into a 503 and the scoring worker retries.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .settings import CommonSettings

# What "Redis is unreachable" looks like to redis-py (BusyLoadingError, raised while Redis
# replays its append-only file after a restart, is a ConnectionError too).
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


def redis_client(settings: CommonSettings) -> aioredis.Redis:
    """An asyncio client of ``settings.redis_url`` with the configured timeouts."""
    return aioredis.Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        # One immediate retry replaces a pooled connection that a Redis restart closed; more
        # (redis-py's default is three, with backoff) would multiply the wait past the timeout.
        # Only on a connection error: after a timeout (a link that silently drops packets) a
        # retry waits the whole timeout again, so review's 503 came after twice PR_REDIS_TIMEOUT.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
