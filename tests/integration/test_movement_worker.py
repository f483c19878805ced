"""Pipeline movement through the scoring worker: the card fields and the three alert kinds.

In-process with an injected clock (real Redis): a stall is raised by the passage of time
alone, once, and again only after the deal moved. Then the real faust worker against real
Kafka and Redis: each kind reaches deal-alerts once, ``stalled`` both for a deal stalled when
folded and for one that stalls while the worker runs, with no event after it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import httpx
import pytest
import redis.asyncio as aioredis
from kafka import KafkaConsumer

from services.scoring.processor import DealProcessor
from services.scoring.stall_watch import StallWatch
from services.shared.events import encode_event
from services.shared.keys import RedisKeys
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event, wait_until
from tests.integration.test_scoring_worker import produce, start_worker
from tests.workload import run

pytestmark = pytest.mark.integration
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
UTC = dt.UTC
PARTITIONS = 6


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def worker_parts(redis_url):
    redis = aioredis.Redis.from_url(redis_url)
    keys = RedisKeys(f"t{uuid.uuid4().hex[:8]}")
    alerts: list[dict] = []

    async def sink(alert):
        alerts.append(alert.model_dump(exclude_unset=True))  # as it goes on deal-alerts

    clock = Clock(dt.datetime(2026, 10, 1, 12, tzinfo=UTC))
    table: dict[bytes, bytes] = {}
    processor = DealProcessor(table, redis, keys, STAGES, sink, clock=clock, partitions=PARTITIONS)
    watch = StallWatch(redis, keys, lambda: set(range(PARTITIONS)), clock=lambda: clock().timestamp())
    yield processor, watch, clock, alerts, redis, keys
    async for key in redis.scan_iter(f"{keys.prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def due_deals(watch) -> list[str]:
    return sorted(deal for deals in (await watch.due()).values() for deal in deals)


async def test_time_alone_raises_a_stall_once_and_again_after_a_move(worker_parts):
    processor, watch, clock, alerts, redis, keys = worker_parts
    start = clock.now
    created = event(
        deal_id="api:idle",
        type="deal.created",
        at=start,
        stage="Prospecting",
        amount=90_000,
        potential_value=300_000,
        team="East",
        close_date="2027-03-01",
    )
    await processor.process([encode_event(created)])
    assert alerts == [] and await due_deals(watch) == []
    card = json.loads(await redis.get(keys.deal("api:idle")))
    assert card["stage_entered_at"] == start.isoformat() and card["stall_days"] == 14

    clock.now = start + dt.timedelta(days=14, seconds=1)  # no event: only time passes
    assert await due_deals(watch) == ["api:idle"]
    raised = [a.model_dump(exclude_unset=True) for a in await processor.check_stalls(["api:idle"])]
    assert [a["kind"] for a in raised] == ["stalled"] and alerts == raised
    assert raised[0]["days_in_stage"] == 14 and raised[0]["potential_value"] == 300_000
    assert await due_deals(watch) == []  # alerted: out of the index
    assert await processor.check_stalls(["api:idle"]) == []  # a repeated check raises nothing

    clock.now += dt.timedelta(days=30)
    await processor.process([encode_event(event(deal_id="api:idle", at=start + dt.timedelta(days=20), amount=80_000))])
    assert len(alerts) == 1 and await due_deals(watch) == []  # an update is not a move: the same stall
    moved_at = start + dt.timedelta(days=21)
    await processor.process(
        [encode_event(event(deal_id="api:idle", type="deal.stage_changed", at=moved_at, stage="Qualification"))]
    )
    # Moved 23 days before "now"; Qualification allows 21, so it is stalled already when folded.
    assert [a["kind"] for a in alerts] == ["stalled", "stalled"]
    assert alerts[1]["alert_id"] != alerts[0]["alert_id"] and alerts[1]["stage"] == "Qualification"
    assert await processor.check_stalls(["api:idle"]) == []


async def test_the_due_index_holds_only_open_early_and_mid_deals_due_later(worker_parts):
    processor, _watch, clock, _alerts, redis, keys = worker_parts
    now = clock.now
    await processor.process(
        [
            encode_event(e)
            for e in [
                event(deal_id="api:early", type="deal.created", at=now, stage="Prospecting"),
                event(deal_id="api:late", type="deal.created", at=now, stage="Negotiation/Review"),
                event(deal_id="api:won", type="deal.created", at=now, stage="Qualification"),
                event(deal_id="api:won", type="deal.closed_won", at=now + dt.timedelta(minutes=1)),
            ]
        ]
    )
    indexed = {}
    for partition in range(PARTITIONS):
        for member, score in await redis.zrange(keys.stall_due(partition), 0, -1, withscores=True):
            indexed[member.decode()] = score
    assert indexed == {"api:early": (now + dt.timedelta(days=14)).timestamp()}


async def test_push_and_gap_alerts_come_from_the_folded_events(worker_parts):
    processor, _watch, clock, alerts, redis, keys = worker_parts
    now = clock.now
    await processor.process(
        [
            encode_event(e)
            for e in [
                event(
                    deal_id="api:slip",
                    type="deal.created",
                    at=now,
                    stage="Value Proposition",
                    amount=200_000,
                    close_date="2026-12-10",
                    qualification={"champion": "known"},
                ),
                event(deal_id="api:slip", at=now + dt.timedelta(hours=1), close_date="2027-01-20"),
                event(
                    deal_id="api:slip",
                    type="deal.stage_changed",
                    at=now + dt.timedelta(hours=2),
                    stage="Proposal/Price Quote",
                ),
            ]
        ]
    )
    kinds = {a["kind"]: a for a in alerts}
    assert set(kinds) == {"close_date_pushed", "qualification_gap"}
    assert kinds["close_date_pushed"]["to_close_date"] == "2027-01-20"
    assert kinds["qualification_gap"]["missing"] == ["economic_buyer"]
    card = json.loads(await redis.get(keys.deal("api:slip")))
    assert card["push_count"] == 1 and card["stage_entered_at"] == (now + dt.timedelta(hours=2)).isoformat()
    # The same events again (a redelivery) raise nothing more.
    before = len(alerts)
    await processor.process(
        [
            encode_event(
                event(
                    deal_id="api:slip",
                    at=now + dt.timedelta(hours=1),
                    close_date="2027-01-20",
                    event_id="other-id-same-change",
                )
            )
        ]
    )
    assert len(alerts) == before


def worker_state(worker) -> dict:
    """The worker's counters (its /readyz body); empty while it does not answer."""
    try:
        return httpx.get(worker.ready_url, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}


def more_stall_passes(worker, passes: int) -> None:
    """Wait until the stall timer has run ``passes`` more times and every deal it named is checked:
    what a check that nothing more is raised waits for, rather than a sleep."""
    start = worker_state(worker)["stall_passes"]

    def done() -> bool:
        state = worker_state(worker)
        return state.get("stall_passes", 0) >= start + passes and state["stall_checks"] >= state["stall_named"]

    wait_until(done, timeout=30, interval=0.2, what=f"{passes} more stall passes, each named deal checked")


def alerts_by_kind(settings, want: dict[str, int], timeout: float) -> dict[str, list[dict]]:
    """Read deal-alerts (read_committed) until ``want`` (kind -> count) is there."""
    consumer = KafkaConsumer(
        settings.deal_alerts_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        group_id=f"g-{uuid.uuid4().hex[:6]}",
        consumer_timeout_ms=1000,
    )
    seen: dict[str, list[dict]] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                alert = json.loads(message.value)
                alert["_seen_at"] = time.time()
                seen.setdefault(alert["kind"], []).append(alert)
            if all(len(seen.get(kind, [])) >= n for kind, n in want.items()):
                return seen
    finally:
        consumer.close()
    raise AssertionError(f"timed out waiting for {want}; got { ({k: len(v) for k, v in seen.items()}) }")


def test_the_worker_raises_every_movement_kind_once(common_settings, tmp_path):
    now = dt.datetime.now(UTC).replace(microsecond=0)
    quarter_end = dt.date(now.year + (now.month > 9), (((now.month - 1) // 3 + 1) * 3) % 12 + 1, 1) - dt.timedelta(
        days=1
    )
    stalls_in = 12  # s: the deal stalls this long after the test posts its only event
    events = [
        # Pushed: closes this quarter, then moved two quarters on.
        event(
            deal_id="api:pushed",
            type="deal.created",
            at=now - dt.timedelta(hours=2),
            stage="Value Proposition",
            amount=150_000,
            close_date=quarter_end.isoformat(),
            team="East",
        ),
        event(
            deal_id="api:pushed",
            at=now - dt.timedelta(hours=1),
            close_date=(quarter_end + dt.timedelta(days=120)).isoformat(),
        ),
        # Qualification gap: enters a late stage with neither economic buyer nor champion known.
        event(
            deal_id="api:gap",
            type="deal.created",
            at=now - dt.timedelta(hours=2),
            stage="Needs Analysis",
            amount=80_000,
            team="West",
        ),
        event(deal_id="api:gap", type="deal.stage_changed", at=now - dt.timedelta(hours=1), stage="Negotiation/Review"),
        # Stalled when folded: in Prospecting (14 days) for 20 days.
        event(
            deal_id="api:old",
            type="deal.created",
            at=now - dt.timedelta(days=20),
            stage="Prospecting",
            potential_value=500_000,
            team="East",
        ),
        # Stalls while the worker runs, with no event after this one.
        event(
            deal_id="api:soon",
            type="deal.created",
            at=now - dt.timedelta(days=14) + dt.timedelta(seconds=stalls_in),
            stage="Prospecting",
            potential_value=250_000,
            team="East",
        ),
    ]
    due_at = (now - dt.timedelta(days=14) + dt.timedelta(seconds=stalls_in)).timestamp()
    worker = start_worker(
        common_settings, f"pr-scoring-{uuid.uuid4().hex[:6]}", tmp_path, PR_SCORING_STALL_CHECK_INTERVAL="1"
    )
    try:
        produce(common_settings, events)
        seen = alerts_by_kind(
            common_settings, {"close_date_pushed": 1, "qualification_gap": 1, "stalled": 2}, timeout=90
        )
        stalled = {a["deal_id"]: a for a in seen["stalled"]}
        assert set(stalled) == {"api:old", "api:soon"}
        assert stalled["api:soon"]["_seen_at"] >= due_at  # raised by the passage of time, not by the event
        assert stalled["api:old"]["days_in_stage"] == 20
        assert seen["close_date_pushed"][0]["deal_id"] == "api:pushed"
        assert seen["qualification_gap"][0]["missing"] == ["economic_buyer", "champion"]
        # Once per stall: three more passes of the stall timer, every deal they named checked,
        # and nothing is raised again (api:soon is the one stall the timer raised).
        more_stall_passes(worker, 3)
        assert worker_state(worker)["stalled_alerts"] == 1
        again = alerts_by_kind(common_settings, {}, timeout=3)
        assert sorted(a["deal_id"] for a in again["stalled"]) == ["api:old", "api:soon"]
        assert len(again["close_date_pushed"]) == len(again["qualification_gap"]) == 1
        card = json.loads(run(_card(common_settings, "api:pushed")))
        assert card["push_count"] == 1 and card["close_date_history"][-1]["pushed"] is True
        # The alerted stalls left the due index; the mid-stage pushed deal waits there for its 30 days.
        assert wait_until(
            lambda: run(_indexed(common_settings)) == ["api:pushed"],
            timeout=10,
            what="the due index to hold only the deal still to stall",
        )
    finally:
        worker.stop()


async def _indexed(settings) -> list[str]:
    redis = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        members = []
        for partition in range(settings.deal_event_partitions):
            members += [m.decode() for m in await redis.zrange(settings.keys.stall_due(partition), 0, -1)]
        return sorted(members)
    finally:
        await redis.aclose()


async def _card(settings, deal_id: str) -> bytes:
    redis = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        return await redis.get(settings.keys.deal(deal_id))
    finally:
        await redis.aclose()


def test_stalls_survive_a_restart_without_repeating(common_settings, tmp_path):
    """Alerted before a restart: not again after it. Due while no worker ran: raised by the next one."""
    now = dt.datetime.now(UTC)
    app_id = f"pr-scoring-{uuid.uuid4().hex[:6]}"
    extra = {"PR_SCORING_STALL_CHECK_INTERVAL": "1"}
    events = [
        event(deal_id="api:before", type="deal.created", at=now - dt.timedelta(days=20), stage="Prospecting"),
        # Due 15 s from now: after the first worker has stopped.
        event(
            deal_id="api:while-down",
            type="deal.created",
            at=now - dt.timedelta(days=14) + dt.timedelta(seconds=15),
            stage="Prospecting",
        ),
    ]
    worker = start_worker(common_settings, app_id, tmp_path, **extra)
    try:
        produce(common_settings, events)
        first = alerts_by_kind(common_settings, {"stalled": 1}, timeout=60)
        assert [a["deal_id"] for a in first["stalled"]] == ["api:before"]
    finally:
        worker.stop()
    time.sleep(max(0.0, now.timestamp() + 16 - time.time()))
    worker = start_worker(common_settings, app_id, tmp_path, **extra)
    try:
        seen = alerts_by_kind(common_settings, {"stalled": 2}, timeout=60)
        more_stall_passes(worker, 3)
        assert worker_state(worker)["stalled_alerts"] == 1  # api:while-down only: api:before is not raised again
        seen = alerts_by_kind(common_settings, {"stalled": 2}, timeout=10)
        assert sorted(a["deal_id"] for a in seen["stalled"]) == ["api:before", "api:while-down"]
    finally:
        worker.stop()
