"""ReadModelGuard against a real Redis: retries through errors, rewrites only the partitions Redis lost."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError

from services.domain.lists import place
from services.domain.quarters import quarter_of
from services.domain.state import apply_event
from services.scoring.changelog import partition_for
from services.scoring.processor import DealProcessor
from services.scoring.read_model_guard import ReadModelGuard, synced_key
from services.shared.events import encode_event
from services.shared.keys import RedisKeys
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import T0, action, event

pytestmark = pytest.mark.integration
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
PARTITIONS = 6


class Flaky:
    """A Redis client whose first ``failures`` MGETs fail with ``error`` (by default: as if Redis were down)."""

    def __init__(self, redis, failures: int, error: Exception | None = None):
        error = error or RedisConnectionError("Connection refused (test)")
        self._redis = redis
        self.failures = failures
        self.error = error

    async def mget(self, *args, **kwargs):
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return await self._redis.mget(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._redis, name)


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def keys(redis) -> RedisKeys:
    return RedisKeys(f"t{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
async def cleanup(redis, keys):
    yield
    async for key in redis.scan_iter(f"{keys.prefix}:*"):
        await redis.delete(key)


def deal_table(n: int = 30) -> dict[bytes, bytes]:
    table = {}
    for i in range(n):
        deal_id = f"api:g{i}"
        state = apply_event(
            None,
            event(deal_id, "deal.created", stage="Prospecting", amount=1000 + i, team="East", close_date="2026-12-15"),
            STAGES,
        ).state
        table[deal_id.encode()] = state.encode()
    return table


def by_partition(table: dict[bytes, bytes]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for key in table:
        out.setdefault(partition_for(key, PARTITIONS), []).append(key.decode())
    return out


def guard_for(client, keys, table, owned, ready=lambda: True) -> ReadModelGuard:
    return ReadModelGuard(
        client,
        keys,
        STAGES,
        PARTITIONS,
        table_items=table.items,
        owned_partitions=lambda: set(owned),
        ready=ready,
        max_backoff=0.05,
    )


async def cards(redis, keys, deal_ids) -> list[bool]:
    return [raw is not None for raw in await redis.mget([keys.deal(d) for d in deal_ids])]


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("Connection refused (test)"),
        OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
    ],
)
async def test_a_write_waits_through_redis_errors_and_logs_the_outage_once(redis, keys, caplog, error):
    guard = guard_for(Flaky(redis, failures=4, error=error), keys, {}, owned=set())
    placement = place(
        apply_event(None, event("api:x", "deal.created", stage="Prospecting", amount=5), STAGES).state, STAGES
    )
    with caplog.at_level(logging.WARNING, logger="services.scoring.read_model_guard"):
        await guard.write({"api:x": placement})
    assert await redis.get(keys.deal("api:x")) is not None
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis unreachable" in m for m in messages) == 1
    assert sum("Redis reachable again" in m for m in messages) == 1
    assert guard.status()["redis_outage_seconds"] is None


async def test_only_owned_partitions_are_rewritten_and_only_when_their_mark_is_lost(redis, keys):
    table = deal_table()
    parts = by_partition(table)
    owned = sorted(parts)[:2]
    others = [d for p, ids in parts.items() if p not in owned for d in ids]
    guard = guard_for(redis, keys, table, owned)
    await guard.check()  # no marks yet: the owned partitions are written from the table
    assert all(await cards(redis, keys, parts[owned[0]] + parts[owned[1]]))
    assert not any(await cards(redis, keys, others)), "another worker's partitions are left alone"
    # Lose every card; outdate only the mark of the second partition (as if it came from an older Redis).
    await redis.delete(*[keys.deal(d) for d in parts[owned[0]] + parts[owned[1]]])
    await redis.hset(synced_key(keys), str(owned[1]), "an-older-run-id")
    await guard.check()
    assert all(await cards(redis, keys, parts[owned[1]]))
    assert not any(await cards(redis, keys, parts[owned[0]])), "a partition whose mark is current is not rewritten"
    assert guard.status()["read_model_rewrites"] == 2


async def test_no_rewrite_before_the_table_is_recovered(redis, keys):
    table = deal_table(10)
    recovered = False
    guard = guard_for(redis, keys, table, owned=range(PARTITIONS), ready=lambda: recovered)
    await guard.check()
    assert not any(await cards(redis, keys, [k.decode() for k in table]))
    assert await redis.exists(synced_key(keys)) == 0
    recovered = True
    await guard.check()
    assert all(await cards(redis, keys, [k.decode() for k in table]))


async def test_a_rewrite_restores_rank_entries_that_surviving_cards_claim(redis, keys):
    """A wipe that falls between a write's MGET and its MULTI leaves cards saying a deal is ranked
    while its sorted-set entries are gone; the rewrite after the wipe must add them again."""
    table = deal_table(10)
    deal_ids = [k.decode() for k in table]
    guard = guard_for(redis, keys, table, owned=range(PARTITIONS))
    await guard.check()
    manager = keys.manager_rank("2026Q4")
    assert await redis.zcard(manager) == len(deal_ids)
    # What such a wipe leaves: the cards (with their _ranks), but neither rankings nor marks.
    async for key in redis.scan_iter(keys.rank_pattern()):
        await redis.delete(key)
    await redis.delete(synced_key(keys))
    assert all(await cards(redis, keys, deal_ids))
    await guard.check()
    assert await redis.zcard(manager) == len(deal_ids)
    assert await redis.zcard(keys.leader_rank()) == len(deal_ids)
    assert await redis.zcard(keys.manager_rank("2026Q4", "team", "East")) == len(deal_ids)


async def test_a_wipe_brings_back_the_owned_partitions_scorecard_rows_from_the_table(redis, keys):
    """The rows' sums are kept in the deal table beside the deals: a wiped Redis gets them back
    from there, for the partitions this worker owns only."""
    table: dict[bytes, bytes] = {}
    processor = DealProcessor(table, redis, keys, STAGES, send_alert=_no_alert, partitions=PARTITIONS)
    deal_ids = [f"api:s{i}" for i in range(12)]
    events = [event(d, "deal.created", at=0, stage="Prospecting", amount=1_000, team="East") for d in deal_ids]
    events += [action(d, at=60, by="ana") for d in deal_ids]
    await processor.process([encode_event(e) for e in events])
    quarter = quarter_of(T0.date())
    written = await redis.hgetall(keys.scorecards(quarter))
    rows = {tuple(json.loads(f)): json.loads(v) for f, v in written.items()}  # (partition, team, actor) -> counts
    ana = [(p, counts) for (p, _team, actor), counts in rows.items() if actor == "ana"]
    assert sum(c["actions.reviews"] for _p, c in ana) == 12
    owned = {p for p, _c in ana}
    assert len(owned) > 1, "the deals fall into several partitions, each with its own row"
    keep = sorted(owned)[0]
    await redis.delete(keys.scorecards(quarter), synced_key(keys))  # Redis lost the rows and the marks
    await guard_for(redis, keys, table, owned={keep}).check()
    back = {tuple(json.loads(f)): json.loads(v) for f, v in (await redis.hgetall(keys.scorecards(quarter))).items()}
    assert {row[0] for row in back} == {keep}
    assert back == {row: counts for row, counts in rows.items() if row[0] == keep}


async def _no_alert(alert) -> None:
    return None
