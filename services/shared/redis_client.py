"""The one way services open the Redis read model: with bounded socket timeouts.

Without them a Redis that stops answering (a network cut, a stuck server) leaves every
request waiting on its socket for ever; with them a call fails fast with a
``redis.exceptions.TimeoutError``, which review turns into a 503 and the scoring worker retries.

With ``PR_REDIS_CLUSTER=true`` the client is redis-py's ``RedisCluster``: it has the same commands,
and since every key carries the hash tag ``{prefix}`` (see keys.py) the transactions and scripts
of the read model, the feed and the webhooks run on the one node that holds that slot.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
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
    options: dict[str, Any] = dict(
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        # One immediate retry replaces a pooled connection that a Redis restart closed; more
        # (redis-py's default is three, with backoff) would multiply the wait past the timeout.
        # Only on a connection error: after a timeout (a link that silently drops packets) a
        # retry waits the whole timeout again, so review's 503 came after twice PR_REDIS_TIMEOUT.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    if settings.redis_cluster:
        # Typed as Redis for the callers: the commands they use are the same on both.
        return RedisCluster.from_url(settings.redis_url.get_secret_value(), **options)  # type: ignore[return-value]
    return aioredis.Redis.from_url(settings.redis_url.get_secret_value(), **options)


async def server_run_id(redis: aioredis.Redis, key: str) -> str:
    """The run id of the Redis server that holds ``key``: it changes when that server lost its memory.

    On a cluster that is the master of the key's slot (a failover to its replica changes it too).
    """
    if isinstance(redis, RedisCluster):
        await redis.initialize()  # learns the slot table on first use; a no-op after
        info = await redis.info("server", target_nodes=redis.get_node_from_key(key))
    else:
        info = await redis.info("server")
    return info["run_id"]


def as_text(value: bytes | str) -> str:
    """A Redis reply as str: clients opened without ``decode_responses`` answer bytes."""
    return value.decode() if isinstance(value, bytes) else value
