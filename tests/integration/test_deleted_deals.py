"""Deleted deals' cards and rankings go after the grace period (processor + sweep, real Redis)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis.asyncio as aioredis

from services.domain.retention import removal_cutoff
from services.scoring.processor import DealProcessor
from services.scoring.read_model import sweep_deleted
from services.shared.events import encode_event
from services.shared.keys import RedisKeys
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import T0, event

pytestmark = pytest.mark.integration
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
GRACE = 30


@pytest.fixture
async def model(redis_url):
    redis = aioredis.Redis.from_url(redis_url)
    keys = RedisKeys(f"t{uuid.uuid4().hex[:8]}")

    async def no_alerts(alert):
        pass

    yield DealProcessor({}, redis, keys, STAGES, no_alerts), redis, keys
    async for key in redis.scan_iter(f"{keys.prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def feed(processor, *events):
    await processor.process([encode_event(e) for e in events])


def created(deal_id: str, **changes):
    return event(
        deal_id=deal_id,
        type="deal.created",
        at=0,
        stage="Prospecting",
        amount=100,
        close_date="2026-12-01",
        team="T",
        **changes,
    )


async def sweep_at(redis, keys, now: dt.datetime, batch: int = 500) -> int:
    return await sweep_deleted(redis, keys, removal_cutoff(now, GRACE), batch=batch)


async def test_a_deleted_card_stays_through_the_grace_period_then_goes(model):
    processor, redis, keys = model
    await feed(processor, created("x"), event(deal_id="x", type="deal.deleted", at=10))
    deleted_at = (T0 + dt.timedelta(minutes=10)).timestamp()
    assert await redis.zscore(keys.deleted_deals(), "x") == deleted_at
    assert await redis.exists(keys.leader_rank(), keys.leader_rank("team", "T")) == 0  # left the lists at once

    assert await sweep_at(redis, keys, T0 + dt.timedelta(days=GRACE)) == 0  # 10 minutes short
    assert await redis.get(keys.deal("x")) is not None

    assert await sweep_at(redis, keys, T0 + dt.timedelta(days=GRACE, minutes=10)) == 1
    assert await redis.get(keys.deal("x")) is None
    assert await redis.zcard(keys.deleted_deals()) == 0


async def test_only_deleted_deals_are_tracked_and_the_sweep_leaves_the_others_alone(model):
    processor, redis, keys = model
    await feed(processor, created("open"), created("gone"), event(deal_id="gone", type="deal.deleted", at=1))
    assert [m.decode() for m in await redis.zrange(keys.deleted_deals(), 0, -1)] == ["gone"]
    assert await sweep_at(redis, keys, T0 + dt.timedelta(days=365)) == 1
    assert await redis.get(keys.deal("open")) is not None
    assert [m.decode() for m in await redis.zrange(keys.leader_rank(), 0, -1)] == ["open"]


async def test_a_deal_reopened_after_its_deletion_keeps_its_card(model):
    processor, redis, keys = model
    await feed(
        processor,
        created("back"),
        event(deal_id="back", type="deal.deleted", at=1),
        event(deal_id="back", type="deal.stage_changed", at=2, stage="Prospecting"),
    )
    assert await sweep_at(redis, keys, T0 + dt.timedelta(days=365)) == 0
    assert await redis.get(keys.deal("back")) is not None
    assert [m.decode() for m in await redis.zrange(keys.leader_rank(), 0, -1)] == ["back"]
    assert await redis.zcard(keys.deleted_deals()) == 0  # its stale due entry is gone too


async def test_many_deletions_go_in_batches_without_reading_other_deals(model):
    processor, redis, keys = model
    ids = [f"d{n}" for n in range(7)]
    await feed(processor, *[created(d) for d in ids], *[event(deal_id=d, type="deal.deleted", at=1) for d in ids])
    assert await sweep_at(redis, keys, T0 + dt.timedelta(days=GRACE, minutes=1), batch=3) == 7
    assert await redis.mget([keys.deal(d) for d in ids]) == [None] * 7


async def test_an_event_after_the_removal_brings_the_card_back_only_until_the_next_sweep(model):
    processor, redis, keys = model
    await feed(processor, created("x"), event(deal_id="x", type="deal.deleted", at=1))
    later = T0 + dt.timedelta(days=GRACE + 1)
    assert await sweep_at(redis, keys, later) == 1
    await feed(processor, event(deal_id="x", at=0, amount=5))  # a late, older update
    assert await redis.get(keys.deal("x")) is not None  # still a deleted deal
    assert await redis.exists(keys.leader_rank()) == 0
    assert await sweep_at(redis, keys, later) == 1
    assert await redis.get(keys.deal("x")) is None


def test_the_worker_sweeps_deleted_cards_on_its_timer(common_settings, tmp_path):
    """The real faust worker: its timer removes a card past the grace period, not an open one."""
    import httpx
    import redis as sync_redis
    from kafka import KafkaProducer

    from testkit.processes import Service, free_port, scoring_env
    from tests.conftest import settings_env
    from tests.helpers import wait_until

    port = free_port()
    env = (
        settings_env(common_settings)
        | scoring_env(f"sweep-{uuid.uuid4().hex[:6]}", port, tmp_path / "w")
        | {"PR_SCORING_DELETED_GRACE_DAYS": "1", "PR_SCORING_DELETED_SWEEP_INTERVAL": "0.5"}
    )
    worker = Service("scoring", env, f"http://127.0.0.1:{port}/readyz", tmp_path).start()
    redis = sync_redis.Redis.from_url(common_settings.redis_url.get_secret_value())
    keys = common_settings.keys
    try:
        # T0 lies more than a day back: the deleted card is due as soon as it is written.
        producer = KafkaProducer(bootstrap_servers=common_settings.kafka_bootstrap, acks="all")
        for e in (created("open"), created("gone"), event(deal_id="gone", type="deal.deleted", at=1)):
            producer.send(common_settings.deal_events_topic, key=e.deal_id.encode(), value=encode_event(e))
        producer.flush(30)
        producer.close()
        wait_until(
            lambda: httpx.get(worker.ready_url, timeout=5).json().get("deleted_removed") == 1,
            timeout=60,
            what="the worker to report one removed card",
        )
        assert redis.get(keys.deal("gone")) is None
        # The open deal may sit in another partition's batch; once written, no sweep touches it.
        wait_until(lambda: redis.get(keys.deal("open")) is not None, timeout=30, what="the open deal's card")
        assert httpx.get(worker.ready_url, timeout=5).json()["deleted_removed"] == 1
        assert redis.zcard(keys.deleted_deals()) == 0
    finally:
        worker.stop()
        for key in redis.scan_iter(f"{keys.prefix}:*"):
            redis.delete(key)
        redis.close()


async def test_a_rebuild_tracks_the_deleted_cards_again_and_only_them(common_settings):
    from services.domain.state import fold
    from services.scoring.rebuild import write_all

    keys = common_settings.keys
    redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    try:
        await redis.zadd(keys.deleted_deals(), {"stale": 1.0})  # left over from before the wipe
        states = {
            "gone": fold([created("gone"), event(deal_id="gone", type="deal.deleted", at=1)], STAGES),
            "open": fold([created("open")], STAGES),
        }
        await write_all(common_settings, states, STAGES, wipe=True)
        tracked = {m.decode(): s for m, s in await redis.zrange(keys.deleted_deals(), 0, -1, withscores=True)}
        assert tracked == {"gone": (T0 + dt.timedelta(minutes=1)).timestamp()}
    finally:
        async for key in redis.scan_iter(f"{keys.prefix}:*"):
            await redis.delete(key)
        await redis.aclose()
