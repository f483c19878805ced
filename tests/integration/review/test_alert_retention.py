"""The alert feed keeps PR_REVIEW_ALERT_RETENTION_DAYS and trims older alerts, against the real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from types import SimpleNamespace

import pytest
import redis.asyncio as aioredis

from services.review import alert_feed
from services.review.alert_feed import DAY_MS, AlertIngestor, AlertStore, AlertTrimmer
from tests.helpers import await_until

from .conftest import make_alert
from .test_alert_api import h, running

pytestmark = pytest.mark.integration
AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def store(common_settings):
    redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    yield AlertStore(redis, common_settings.keys)
    async for key in redis.scan_iter(f"{common_settings.redis_prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def add_old(store: AlertStore, alert: dict, days_ago: float) -> str:
    """An alert as the feed would hold it had it been added ``days_ago`` (stream id = add time)."""
    seconds, micros = await store.redis.time()
    stream_id = f"{int(seconds) * 1000 + int(micros) // 1000 - round(days_ago * DAY_MS)}-0"
    await store.redis.xadd(store.keys.alerts_stream(), {"alert": json.dumps(alert)}, id=stream_id)
    await store.redis.hset(store.keys.alert_positions(), alert["alert_id"], stream_id)
    return stream_id


async def test_trim_removes_older_alerts_with_their_positions_and_acks(store):
    old, new = make_alert(), make_alert()
    old_id, _ = await store.append(old)
    await store.ack(old["alert_id"], "u-9", AT)
    await asyncio.sleep(0.005)  # the next alert gets a later millisecond
    new_id, _ = await store.append(new)
    await store.ack(new["alert_id"], "u-9", AT)

    assert await store.trim_before(int(new_id.split("-")[0])) == 1

    assert await store.get(old["alert_id"]) is None
    assert await store.position(old["alert_id"]) is None
    assert await store.redis.hget(store.keys.alert_acks(), old["alert_id"]) is None
    assert await store.ack(old["alert_id"], "u-9", AT) is None  # unknown now, like any other id
    kept = await store.get(new["alert_id"])
    assert kept["cursor"] == new_id and kept["ack"] == {"by": "u-9", "at": AT.isoformat()}
    assert [sid.decode() for sid, _ in await store.redis.xrange(store.keys.alerts_stream())] == [new_id]
    assert old_id != new_id


async def test_trim_works_in_batches_and_stops_at_the_cutoff(store, monkeypatch):
    monkeypatch.setattr(alert_feed, "TRIM_BATCH", 2)
    old = [make_alert() for _ in range(5)]
    for n, alert in enumerate(old):
        await add_old(store, alert, days_ago=100 - n / 1000)  # distinct milliseconds
    fresh = make_alert()
    await store.append(fresh)

    trimmer = AlertTrimmer(store, retention_days=90, interval=3600)
    assert await trimmer.trim_once() == 5
    assert await trimmer.trim_once() == 0  # idempotent: what is left is within retention

    assert await store.redis.hlen(store.keys.alert_positions()) == 1
    assert await store.position(fresh["alert_id"]) is not None
    assert await store.redis.xlen(store.keys.alerts_stream()) == 1


async def test_an_alert_just_inside_retention_stays_and_zero_days_keeps_everything(store):
    inside, outside = make_alert(), make_alert()
    await add_old(store, outside, days_ago=31)
    await add_old(store, inside, days_ago=29)
    assert await AlertTrimmer(store, retention_days=0, interval=3600).trim_once() == 0
    assert await AlertTrimmer(store, retention_days=30, interval=3600).trim_once() == 1
    assert await store.position(inside["alert_id"]) is not None
    assert await store.position(outside["alert_id"]) is None


async def test_review_trims_at_start_and_the_feed_no_longer_lists_old_alerts(common_settings):
    old, new = make_alert(), make_alert()
    redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    seed = AlertStore(redis, common_settings.keys)
    await add_old(seed, old, days_ago=91)
    await seed.append(new)
    await redis.aclose()
    async with running(common_settings) as (app, client):

        async def trimmed() -> bool:
            return app.state.alert_trimmer.trimmed >= 1

        await await_until(trimmed, timeout=10, interval=0.05, what="the start-up trim")
        items = (await client.get("/v1/alerts", headers=h("admin-key-01"))).json()["items"]
        assert [item["alert_id"] for item in items] == [new["alert_id"]]
        assert app.state.alert_trimmer.trimmed == 1


async def test_a_reread_alert_raised_before_the_retention_is_not_brought_back(store):
    ingestor = AlertIngestor(store, "127.0.0.1:1", "unused", "unused", retention_days=90)
    now_ms = int(time.time() * 1000)
    stale, recent = make_alert(), make_alert()

    def record(alert: dict, timestamp: int) -> SimpleNamespace:
        return SimpleNamespace(
            value=json.dumps(alert).encode(), timestamp=timestamp, topic="deal-alerts", partition=0, offset=1
        )

    await ingestor._store(record(stale, now_ms - 91 * DAY_MS))
    await ingestor._store(record(recent, now_ms - 89 * DAY_MS))

    assert await store.position(stale["alert_id"]) is None
    assert await store.position(recent["alert_id"]) is not None
    assert (ingestor.expired, ingestor.appended) == (1, 1)
    assert ingestor.status()["expired"] == 1
