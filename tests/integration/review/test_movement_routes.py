"""GET /v1/pipeline/flow and GET /v1/lists/stalled over a read model the processor wrote (real Redis).

The flow is the worked example of docs/movement.md, plus deal H, placed before the quarter
began and unchanged since: it counts in start and end through the manager ranking alone.
"""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from services.review.app import create_app
from services.review.settings import ReviewSettings
from services.review.webhooks import WebhookSettings
from services.scoring.processor import DealProcessor
from services.shared.events import encode_event
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

pytestmark = pytest.mark.integration
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)
KEYS = "admin-key-01:admin,east-key-01:manager:East,dash-key-001:dashboard"
ADMIN, EAST, DASHBOARD = ({"X-API-Key": k} for k in ("admin-key-01", "east-key-01", "dash-key-001"))


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


def created(deal: str, day: str, team: str, amount: float, close: str, **more):
    return event(
        deal_id=deal,
        type="deal.created",
        at=at(day),
        name=f"Deal {deal}",
        team=team,
        owner_id=f"o-{deal}",
        stage="Value Proposition",
        amount=amount,
        close_date=close,
        **more,
    )


WORKED_EXAMPLE = [
    created("A", "2026-09-01", "East", 100_000, "2026-11-15"),
    event(deal_id="A", at=at("2026-10-10"), amount=120_000),
    created("B", "2026-09-02", "East", 80_000, "2026-12-10"),
    event(deal_id="B", at=at("2026-11-03"), close_date="2027-02-01"),
    created("C", "2026-09-03", "East", 50_000, "2026-10-30"),
    event(deal_id="C", type="deal.closed_won", at=at("2026-10-28"), amount=45_000),
    created("D", "2026-10-05", "East", 30_000, "2026-12-20"),
    created("E", "2026-08-01", "West", 60_000, "2027-03-01"),
    event(deal_id="E", at=at("2026-11-10"), close_date="2026-12-15"),
    created("F", "2026-09-05", "West", 40_000, "2026-12-01"),
    event(deal_id="F", type="deal.closed_lost", at=at("2026-11-20")),
    created("G", "2026-10-02", "West", 20_000, "2026-11-01"),
    event(deal_id="G", type="deal.closed_won", at=at("2026-10-30")),
]


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@asynccontextmanager
async def review(common_settings):
    redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    clock = Clock(at("2026-09-15"))
    processor = DealProcessor({}, redis, common_settings.keys, STAGES, send_alert=_ignore, clock=clock, partitions=6)
    # H: placed in Q3 and never again; closes in Q4.
    await processor.process([encode_event(created("H", "2026-09-10", "East", 10_000, "2026-11-30"))])
    clock.now = NOW
    await processor.process([encode_event(e) for e in WORKED_EXAMPLE])
    # S: an early deal, stalled by the time the check runs.
    await processor.process(
        [
            encode_event(
                event(
                    deal_id="S",
                    type="deal.created",
                    at=at("2026-11-01"),
                    team="East",
                    stage="Prospecting",
                    amount=5_000,
                    potential_value=700_000,
                    close_date="2027-06-30",
                )
            )
        ]
    )
    await processor.check_stalls(["S"])
    settings = ReviewSettings(
        common=common_settings, alert_feed_enabled=False, api_keys=KEYS, webhook=WebhookSettings(enabled=False)
    )
    app = create_app(settings, clock=lambda: NOW)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
                yield client
    finally:
        async for key in redis.scan_iter(f"{common_settings.redis_prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


async def _ignore(alert):
    return None


def amounts(answer: dict) -> dict[str, float]:
    return {name: bucket["amount"] for name, bucket in answer["buckets"].items()}


async def test_the_flow_of_the_worked_example_reconciles(common_settings):
    async with review(common_settings) as client:
        answer = (await client.get("/v1/pipeline/flow", headers=DASHBOARD)).json()
        assert answer["quarter"] == "2026Q4" and answer["reconciles"] is True
        assert amounts(answer) == {
            "start": 280_000,
            "new": 50_000,
            "pulled_in": 60_000,
            "pushed_out": 80_000,
            "increased": 20_000,
            "decreased": 5_000,
            "won": 65_000,
            "lost": 40_000,
            "end": 220_000,
        }
        assert answer["buckets"]["start"]["count"] == 5 and answer["buckets"]["end"]["count"] == 4

        won = (await client.get("/v1/pipeline/flow", params={"bucket": "won", "limit": 1}, headers=ADMIN)).json()
        assert [(i["deal_id"], i["score"]) for i in won["items"]] == [("C", 45_000)]
        rest = (
            await client.get("/v1/pipeline/flow", params={"bucket": "won", "cursor": won["next_cursor"]}, headers=ADMIN)
        ).json()
        assert [i["deal_id"] for i in rest["items"]] == ["G"] and rest["next_cursor"] is None
        start = (await client.get("/v1/pipeline/flow", params={"bucket": "start"}, headers=ADMIN)).json()
        assert {i["deal_id"] for i in start["items"]} == {"A", "B", "C", "F", "H"}
        assert all("days_in_stage" in i and "push_count" in i for i in start["items"])


async def test_filters_and_team_scope_apply_to_the_flow(common_settings):
    async with review(common_settings) as client:
        east = (await client.get("/v1/pipeline/flow", params={"team": "East"}, headers=ADMIN)).json()
        assert amounts(east)["start"] == 240_000 and amounts(east)["end"] == 160_000 and east["reconciles"]
        scoped = (await client.get("/v1/pipeline/flow", headers=EAST)).json()
        assert amounts(scoped) == amounts(east)
        assert (await client.get("/v1/pipeline/flow", params={"team": "West"}, headers=EAST)).status_code == 403
        owner = (await client.get("/v1/pipeline/flow", params={"owner": "o-E"}, headers=ADMIN)).json()
        assert amounts(owner)["pulled_in"] == 60_000 and amounts(owner)["start"] == 0
        # The owner's deal is West's: an East key sees nothing of it.
        assert (
            amounts((await client.get("/v1/pipeline/flow", params={"owner": "o-E"}, headers=EAST)).json())["end"] == 0
        )
        previous = (await client.get("/v1/pipeline/flow", params={"quarter": "2026Q3"}, headers=ADMIN)).json()
        assert previous["quarter"] == "2026Q3" and previous["reconciles"]


@pytest.mark.parametrize(
    "params, status",
    [
        ({"quarter": "2026Q2"}, 422),  # older than the previous quarter
        ({"quarter": "2027Q1"}, 422),  # the future
        ({"quarter": "26Q4"}, 422),
        ({"quarter": "2026Q5"}, 422),
        ({"quarter": "2026Q4'; DROP"}, 422),
        ({"bucket": "everything"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 501}, 422),
        ({"bucket": "won", "cursor": "not-a-cursor"}, 400),
        ({"team": "x" * 201}, 422),
    ],
)
async def test_hostile_flow_parameters_are_refused(common_settings, params, status):
    async with review(common_settings) as client:
        assert (await client.get("/v1/pipeline/flow", params=params, headers=ADMIN)).status_code == status


async def test_the_stalled_list_has_the_list_shape_and_filters(common_settings):
    async with review(common_settings) as client:
        assert (await client.get("/v1/pipeline/flow")).status_code == 401
        assert (await client.get("/v1/lists/stalled")).status_code == 401
        page = (await client.get("/v1/lists/stalled", headers=DASHBOARD)).json()
        # By potential value; the example's mid deals (30 days in Value Proposition) have stalled too.
        assert [i["deal_id"] for i in page["items"]] == ["S", "A", "B", "E", "D"] and page["next_cursor"] is None
        item = page["items"][0]
        assert item["score"] == 700_000 and item["days_in_stage"] == 30 and item["stall_days"] == 14
        assert {
            "deal_id",
            "name",
            "account",
            "owner_id",
            "team",
            "stage",
            "phase",
            "amount",
            "potential_value",
            "close_date",
            "score",
            "score_parts",
            "questions",
        } <= set(item)
        west = (await client.get("/v1/lists/stalled", params={"team": "West"}, headers=ADMIN)).json()["items"]
        assert [i["deal_id"] for i in west] == ["E"]
        assert (await client.get("/v1/lists/stalled", params={"team": "West"}, headers=EAST)).status_code == 403
        east = (await client.get("/v1/lists/stalled", params={"limit": 2}, headers=EAST)).json()
        assert [i["deal_id"] for i in east["items"]] == ["S", "A"]
        more = (await client.get("/v1/lists/stalled", params={"cursor": east["next_cursor"]}, headers=EAST)).json()
        assert [i["deal_id"] for i in more["items"]] == ["B", "D"]
        assert (await client.get("/v1/lists/stalled", params={"limit": 501}, headers=ADMIN)).status_code == 422
        assert (await client.get("/v1/lists/stalled", params={"cursor": "zz"}, headers=ADMIN)).status_code == 400
