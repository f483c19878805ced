"""The processor writes the Redis read model; the review reader pages it (real Redis)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis.asyncio as aioredis

from services.domain.quarters import quarter_of
from services.review.lists import Cursor, ListReader
from services.scoring.processor import DealProcessor
from services.shared.events import encode_event
from services.shared.keys import RedisKeys
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import action, event

pytestmark = pytest.mark.integration
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def model(redis_url):
    import uuid

    redis = aioredis.Redis.from_url(redis_url)
    keys = RedisKeys(f"t{uuid.uuid4().hex[:8]}")
    alerts: list = []

    async def sink(alert):
        alerts.append(alert)

    processor = DealProcessor({}, redis, keys, STAGES, sink)
    clock = Clock(dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
    reader = ListReader(redis, keys, clock)
    yield processor, reader, clock, alerts
    async for key in redis.scan_iter(f"{keys.prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def feed(processor, *events):
    return await processor.process([encode_event(e) for e in events])


async def all_ids(reader, which, filters=None, limit=2):
    ids, cursor = [], None
    while True:
        page = await reader.page(which, filters or {}, limit, cursor)
        ids += [item["deal_id"] for item in page.items]
        if page.next_cursor is None:
            return ids
        cursor = Cursor.decode(page.next_cursor)


async def test_leader_list_ranks_pages_and_filters(model):
    processor, reader, _clock, _ = model
    await feed(
        processor,
        *[
            event(
                deal_id=f"d{i}",
                type="deal.created",
                stage="Prospecting",
                amount=1000 * i,
                team="East" if i % 2 else "West",
                owner_id=f"o{i % 3}",
            )
            for i in range(1, 8)
        ],
    )
    assert await all_ids(reader, "leader") == ["d7", "d6", "d5", "d4", "d3", "d2", "d1"]
    assert await all_ids(reader, "leader", {"team": "East"}) == ["d7", "d5", "d3", "d1"]
    assert await all_ids(reader, "leader", {"team": "East", "owner": "o1"}) == ["d7", "d1"]


async def test_a_batch_larger_than_the_scripts_chunks_lands_whole(model):
    # The write script sends each sorted set's members in chunks of 500 (Lua's unpack has a limit).
    processor, reader, _clock, _ = model
    deals = [
        event(deal_id=f"big{i}", type="deal.created", stage="Prospecting", amount=10 * i + 1, team="East")
        for i in range(1_201)
    ]
    await processor.process([encode_event(e) for e in deals])
    keys = processor.keys
    assert await processor.redis.zcard(keys.leader_rank()) == 1_201
    assert await processor.redis.zcard(keys.leader_rank("team", "East")) == 1_201
    page = await reader.page("leader", {}, 3, None)
    assert [item["deal_id"] for item in page.items] == ["big1200", "big1199", "big1198"]
    gone = [event(deal_id=f"big{i}", type="deal.stage_changed", at=5, stage="Negotiation/Review") for i in range(1_201)]
    await processor.process([encode_event(e) for e in gone])
    assert await processor.redis.zcard(keys.leader_rank()) == 0


async def test_a_deal_moving_out_of_early_leaves_the_leader_list(model):
    processor, reader, _clock, _ = model
    await feed(processor, event(deal_id="a", type="deal.created", stage="Prospecting", amount=5, team="T"))
    assert await all_ids(reader, "leader", {"team": "T"}) == ["a"]
    await feed(processor, event(deal_id="a", type="deal.stage_changed", at=5, stage="Negotiation/Review"))
    assert await all_ids(reader, "leader") == []
    assert await all_ids(reader, "leader", {"team": "T"}) == []
    await feed(processor, event(deal_id="a", type="deal.stage_changed", at=9, stage="Qualification"))
    assert await all_ids(reader, "leader", {"team": "T"}) == ["a"]


async def test_paging_has_no_gaps_or_duplicates_when_ties_and_moves_happen(model):
    processor, reader, _clock, _ = model
    await feed(
        processor, *[event(deal_id=f"d{i:02}", type="deal.created", stage="Prospecting", amount=100) for i in range(9)]
    )
    first = await reader.page("leader", {}, 4, None)
    assert [i["deal_id"] for i in first.items] == ["d08", "d07", "d06", "d05"]
    # The last item served changes score before the next page is asked for.
    await feed(processor, event(deal_id="d05", at=3, amount=999))
    rest = await all_ids_from(reader, first.next_cursor)
    assert rest == ["d04", "d03", "d02", "d01", "d00"]


async def all_ids_from(reader, cursor_text):
    ids, cursor = [], Cursor.decode(cursor_text)
    while cursor:
        page = await reader.page("leader", {}, 3, cursor)
        ids += [i["deal_id"] for i in page.items]
        cursor = Cursor.decode(page.next_cursor) if page.next_cursor else None
    return ids


async def test_manager_list_is_this_quarter_by_amount_and_follows_the_clock(model):
    processor, reader, clock, _ = model
    await feed(
        processor,
        event(deal_id="now-small", type="deal.created", stage="Negotiation/Review", amount=10, close_date="2026-12-01"),
        event(
            deal_id="now-big", type="deal.created", stage="Proposal/Price Quote", amount=900, close_date="2026-10-05"
        ),
        event(deal_id="next-q", type="deal.created", stage="Negotiation/Review", amount=500, close_date="2027-02-01"),
        event(deal_id="won", type="deal.closed_won", stage="Closed Won", amount=5000, close_date="2026-11-01"),
    )
    assert await all_ids(reader, "manager") == ["now-big", "now-small"]
    # No new event: the quarter rolls over and the January deal is now due.
    clock.now = dt.datetime(2027, 1, 2, tzinfo=dt.UTC)
    assert await all_ids(reader, "manager") == ["next-q"]


async def test_deleted_deal_leaves_every_ranking_and_alerts_come_once(model):
    processor, reader, _clock, alerts = model
    created = event(
        deal_id="x", type="deal.created", stage="Negotiation/Review", amount=100, close_date="2026-12-01", team="T"
    )
    discount = event(deal_id="x", type="deal.discount_requested", at=1, discount_pct=10)
    outcome = await feed(processor, created, discount, discount)
    assert outcome.duplicates == 1
    # Created late with no economic buyer or champion known: a qualification gap too, once.
    assert [a.kind for a in alerts] == ["qualification_gap", "late_stage_discount"]
    await feed(processor, event(deal_id="x", type="deal.deleted", at=2))
    assert await all_ids(reader, "manager") == []
    assert await all_ids(reader, "manager", {"team": "T"}) == []


async def test_scorecard_rows_follow_the_deals_and_a_replayed_batch_rewrites_them(model):
    """The rows' sums move with each deal's part (here a move to another team), and a batch of
    duplicates writes them to Redis again, as a replay after a crash between table and Redis does."""
    processor, _reader, _clock, _alerts = model
    redis, keys = processor.redis, processor.keys
    created = event("api:sc1", "deal.created", at=0, stage="Prospecting", amount=1_000, team="East")
    reviewed = action("api:sc1", at=60, by="ana")
    await feed(processor, created, reviewed)
    quarter = quarter_of(created.occurred_at.date())

    async def rows():
        raw = await redis.hgetall(keys.scorecards(quarter))
        return {tuple(json.loads(f)): json.loads(v) for f, v in raw.items()}

    first = await rows()
    assert {(team, actor) for _p, team, actor in first} == {("East", "ana"), ("East", "")}
    assert first[(0, "East", "ana")]["actions.reviews"] == 1
    await feed(processor, event("api:sc1", at=120, team="West"))
    moved = await rows()
    assert {(team, actor) for _p, team, actor in moved} == {("West", "ana"), ("West", "")}
    assert moved[(0, "West", "ana")] == first[(0, "East", "ana")]
    await redis.delete(keys.scorecards(quarter))  # as if the worker had died before its Redis write
    await feed(processor, reviewed)  # the replay: a duplicate
    assert await rows() == moved
