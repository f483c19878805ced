"""Keyset paging of the rankings when the cursor's deal moved, against the real Redis."""

from __future__ import annotations

import random
import uuid

import pytest
import redis.asyncio as aioredis

from services.review.lists import Cursor, ranked_page

pytestmark = pytest.mark.integration


async def test_a_moved_cursor_resumes_after_its_old_place_among_many_ties(common_settings):
    redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    key = f"{common_settings.redis_prefix}:test-ties:{uuid.uuid4().hex}"
    try:
        members = {f"m{i:04d}": 5.0 for i in range(300)} | {f"h{i}": 9.0 for i in range(7)} | {"low": 1.0}
        await redis.zadd(key, members)
        order = sorted(members.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        for gone in random.Random(7).sample([m for m in members if m.startswith("m")], 25) + ["m0000", "m0299"]:
            await redis.zrem(key, gone)
            rows, _ = await ranked_page(redis, key, 3, Cursor(5.0, gone))
            # What a full walk would serve after the deal's old place, minus the deal itself.
            expected = [m for m, _ in order[[m for m, _ in order].index(gone) + 1 :]][:3]
            assert [m for m, _ in rows] == expected, gone
            await redis.zadd(key, {gone: 5.0})
    finally:
        await redis.delete(key)
        await redis.aclose()
