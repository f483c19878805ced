"""A Redis that accepts connections and never answers (a link silently dropping packets).

The network-fault chaos scenario found review answering 503 only after twice PR_REDIS_TIMEOUT:
the client retried the timed-out command. A call must fail once, within the timeout.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.shared.redis_client import redis_client
from services.shared.settings import CommonSettings

pytestmark = pytest.mark.integration


async def test_a_silent_redis_fails_a_call_once_within_the_timeout():
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep the socket open, read nothing back to the client
        await reader.read(-1)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = redis_client(CommonSettings(redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout=1.5))
    try:
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await client.get("anything")
        waited = time.monotonic() - started
        assert 1.4 < waited < 2.5, f"one call waited {waited:.2f} s with PR_REDIS_TIMEOUT=1.5"
    finally:
        await client.aclose()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
