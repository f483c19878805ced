"""Managers' actions through review: real Kafka acknowledges them, the fold puts them on the scorecard."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis
from kafka import KafkaConsumer

from services.review.app import create_app
from services.review.settings import ReviewSettings
from services.scoring.processor import DealProcessor
from services.shared.events import decode_event, encode_event
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import T0, event

pytestmark = pytest.mark.integration

STAGES = StageMap.load(DEFAULT_STAGE_MAP)
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
KEYS = json.dumps(
    [
        {"key": "admin-key-01", "role": "admin", "name": "ceo"},
        {"key": "east-key-01", "role": "manager", "teams": ["East"], "name": "ana"},
        {"key": "dash-key-001", "role": "dashboard", "name": "wall"},
    ]
)
ADMIN, ANA, DASH = ({"X-API-Key": k} for k in ("admin-key-01", "east-key-01", "dash-key-001"))


@asynccontextmanager
async def running(common_settings, api_keys: str | None = KEYS, **options):
    settings = ReviewSettings(common=common_settings, alert_feed_enabled=False, api_keys=api_keys, **options)
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
            yield app, client
    cleanup = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    async for key in cleanup.scan_iter(f"{common_settings.redis_prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()


class Pipeline:
    """The scoring fold in process (no faust): events in, Redis cards and the alerts out."""

    def __init__(self, common_settings, app):
        self.alerts: list = []
        self.app = app
        self.redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
        self.processor = DealProcessor({}, self.redis, common_settings.keys, STAGES, self._alert, clock=lambda: NOW)

    async def _alert(self, alert):
        self.alerts.append(alert)
        await self.app.state.alert_store.append(alert.model_dump())

    def discounts(self) -> list:
        """The late-stage discount alerts raised, smallest amount first."""
        return sorted((a for a in self.alerts if a.kind == "late_stage_discount"), key=lambda a: a.amount)

    async def fold(self, events) -> None:
        await self.processor.process([e if isinstance(e, bytes) else encode_event(e) for e in events])


def actions_on_kafka(common_settings, expected: int) -> list:
    consumer = KafkaConsumer(
        common_settings.deal_events_topic,
        bootstrap_servers=common_settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        found = []
        for record in consumer:
            parsed = decode_event(record.value)
            if parsed.source == "review":
                assert record.key == parsed.deal_id.encode()  # the deal's partition, like every deal event
                found.append(record.value)
            if len(found) >= expected:
                break
        return found
    finally:
        consumer.close()


DEALS = [
    event(
        "api:east-early",
        "deal.created",
        at=T0,
        team="East",
        stage="Prospecting",
        amount=100_000,
        potential_value=300_000,
    ),
    event("api:east-late", "deal.created", at=T0, team="East", stage="Negotiation/Review", amount=200_000),
    event("api:east-big", "deal.created", at=T0, team="East", stage="Negotiation/Review", amount=300_000),
    event("api:west", "deal.created", at=T0, team="West", stage="Prospecting", amount=10),
    event(
        "api:east-late", "deal.discount_requested", at=T0 + dt.timedelta(days=1), discount_pct=10, requested_by="rep"
    ),
    event("api:east-big", "deal.discount_requested", at=T0 + dt.timedelta(days=1), discount_pct=30, requested_by="rep"),
]


async def test_actions_are_acknowledged_by_kafka_folded_and_scored(common_settings):
    async with running(common_settings) as (app, client):
        pipeline = Pipeline(common_settings, app)
        await pipeline.fold(DEALS)
        late, big = pipeline.discounts()
        assert (late.severity, big.severity) == ("medium", "high")

        review = await client.post(
            "/v1/deals/api:east-early/reviews", headers=ANA, json={"questions": ["Who signs?"], "note": "first call"}
        )
        assert review.status_code == 202, review.text
        assert review.json()["action"] == {"by": "ana", "questions": ["Who signs?"], "note": "first call"}
        help_ = await client.post("/v1/deals/api:east-early/help", headers=ANA, json={"kind": "access"})
        assert help_.status_code == 202 and help_.json()["type"] == "deal.help_offered"
        decided = await client.post(f"/v1/alerts/{late.alert_id}/decision", headers=ANA, json={"decision": "approved"})
        assert decided.status_code == 202, decided.text
        assert decided.json()["action"]["discount_pct"] == 10
        # A high severity discount needs an admin by default.
        refused = await client.post(
            f"/v1/alerts/{big.alert_id}/decision", headers=ANA, json={"decision": "countered", "discount_pct": 15}
        )
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        countered = await client.post(
            f"/v1/alerts/{big.alert_id}/decision", headers=ADMIN, json={"decision": "countered", "discount_pct": 15}
        )
        assert countered.status_code == 202

        counted = {
            t: app.state.metrics.registry.get_sample_value("review_actions_total", {"type": t})
            for t in ("deal.reviewed", "deal.help_offered", "deal.discount_decided")
        }
        assert counted == {"deal.reviewed": 1, "deal.help_offered": 1, "deal.discount_decided": 2}
        # The alert shows its decision at once.
        shown = (await client.get("/v1/alerts?kind=late_stage_discount", headers=ADMIN)).json()["items"]
        decisions = {item["alert_id"]: item["decision"] for item in shown}
        assert decisions[late.alert_id]["decision"] == "approved" and decisions[late.alert_id]["by"] == "ana"
        assert decisions[big.alert_id]["discount_pct"] == 15

        # Each action is a canonical event on deal-events; folding them puts them on the scorecard.
        records = actions_on_kafka(common_settings, 4)
        assert [decode_event(r).type.value for r in records].count("deal.discount_decided") == 2
        await pipeline.fold(records)
        card = (await client.get("/v1/deals/api:east-late", headers=ADMIN)).json()
        assert card["discount"]["discount_pct"] == 10 and card["discount"]["decision"] == "approved"
        assert card["timeline"][-1]["action"]["by"] == "ana"
        big_card = (await client.get("/v1/deals/api:east-big", headers=ADMIN)).json()
        assert big_card["discount"]["discount_pct"] == 15  # the counter-offer is the deal's discount now

        page = (await client.get("/v1/scorecards", params={"quarter": "2026Q4"}, headers=DASH)).json()
        assert page["quarter"] == "2026Q4" and [i["actor"] for i in page["items"]] == ["ana", "ceo"]
        ana = (await client.get("/v1/scorecards/ana", params={"quarter": "2026Q4"}, headers=DASH)).json()
        # review + help on the early deal (potential 300k each) and a decision on the late one (200k).
        assert ana["leader_share_parts"]["touched"] == {"count": 3, "value": 800_000}
        assert ana["leader_share"] == 0.75
        assert ana["late_discounts"] == {"count": 1, "value": 20_000}
        assert ana["late_discount_intensity"] is None  # nothing won yet
        assert ana["verdict"] == "mixed"
        ceo = (await client.get("/v1/scorecards/ceo", params={"quarter": "2026Q4"}, headers=DASH)).json()
        assert ceo["late_discounts"] == {"count": 1, "value": 45_000}  # 300k x 15 %
        assert ceo["leader_share"] == 0.0 and ceo["verdict"] == "manager"
        # A manager key sees only its teams' deals; another quarter is empty; an unknown actor is a 404.
        west = await client.get("/v1/scorecards", params={"team": "West"}, headers=ANA)
        assert west.status_code == 403
        assert (await client.get("/v1/scorecards", params={"quarter": "2026Q3"}, headers=DASH)).json()["items"] == []
        assert (await client.get("/v1/scorecards/nobody", headers=DASH)).status_code == 404
        # Folding the same events again (a replay) changes no figure.
        await pipeline.fold(records)
        again = (await client.get("/v1/scorecards/ana", params={"quarter": "2026Q4"}, headers=DASH)).json()
        assert {k: v for k, v in again.items() if k != "as_of"} == {k: v for k, v in ana.items() if k != "as_of"}
        await pipeline.redis.aclose()


async def test_hostile_and_wrong_actions_are_refused_with_the_field_named(common_settings):
    async with running(common_settings) as (app, client):
        pipeline = Pipeline(common_settings, app)
        await pipeline.fold(DEALS)
        late = pipeline.discounts()[0]
        cases = [
            (ANA, "/v1/deals/api:west/reviews", {}, 404, "deal_id"),  # another team's deal, as if unknown
            (ANA, "/v1/deals/api:nope/help", {"kind": "access"}, 404, "deal_id"),
            (DASH, "/v1/deals/api:east-early/reviews", {}, 403, "read-only"),
            (ANA, "/v1/deals/api:east-early/reviews", {"note": "x" * 501}, 422, "note"),
            (ANA, "/v1/deals/api:east-early/reviews", {"questions": ["q"] * 21}, 422, "questions"),
            (ANA, "/v1/deals/api:east-early/reviews", {"rating": 5}, 422, "rating"),
            (ANA, "/v1/deals/api:east-early/reviews", {"by": "ceo"}, 422, "by"),  # no acting as someone else
            (ANA, "/v1/deals/api:east-early/help", {"kind": "bribe"}, 422, "kind"),
            (ANA, "/v1/deals/api%01x/reviews", {}, 422, "deal_id"),
            (ANA, "/v1/deals/" + "d" * 201 + "/reviews", {}, 422, "deal_id"),
            (ANA, f"/v1/alerts/{late.alert_id}/decision", {"decision": "maybe"}, 422, "decision"),
            (ANA, f"/v1/alerts/{late.alert_id}/decision", {"decision": "countered"}, 422, "discount_pct"),
            (
                ANA,
                f"/v1/alerts/{late.alert_id}/decision",
                {"decision": "countered", "discount_pct": 10},
                422,
                "discount_pct",
            ),
            (
                ANA,
                f"/v1/alerts/{late.alert_id}/decision",
                {"decision": "rejected", "discount_pct": 2},
                422,
                "discount_pct",
            ),
            (
                ANA,
                f"/v1/alerts/{late.alert_id}/decision",
                {"decision": "approved", "discount_pct": 12},
                422,
                "discount_pct",
            ),
            (ANA, "/v1/alerts/al-not-hex%20x/decision", {"decision": "rejected"}, 422, "alert_id"),
            (ANA, "/v1/alerts/al-" + "f" * 20 + "/decision", {"decision": "rejected"}, 404, "alert_id"),
        ]
        for headers, path, body, status, named in cases:
            answer = await client.post(path, headers=headers, json=body)
            assert answer.status_code == status, (path, body, answer.text)
            assert named in answer.text, (path, body, answer.text)
        assert (await client.post("/v1/deals/api:east-early/reviews", json={})).status_code == 401
        # Nothing refused reached Kafka or the alert's decision.
        assert actions_on_kafka(common_settings, 1) == []
        assert (await app.state.alert_store.get(late.alert_id))["decision"] is None
        await pipeline.redis.aclose()


async def test_open_mode_takes_the_actor_from_by(common_settings):
    async with running(common_settings, api_keys=None) as (app, client):
        pipeline = Pipeline(common_settings, app)
        await pipeline.fold(DEALS[:1])
        missing = await client.post("/v1/deals/api:east-early/reviews", json={})
        assert missing.status_code == 422 and missing.json()["detail"].startswith("by:")
        named = await client.post("/v1/deals/api:east-early/reviews", json={"by": "demo-manager"})
        assert named.status_code == 202 and named.json()["action"]["by"] == "demo-manager"
        assert decode_event(actions_on_kafka(common_settings, 1)[0]).action.by == "demo-manager"
        await pipeline.redis.aclose()


async def test_an_action_kafka_does_not_acknowledge_is_a_503_and_not_recorded(common_settings):
    unreachable = common_settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:9"})
    async with running(unreachable, action_timeout=1.0) as (app, client):
        pipeline = Pipeline(common_settings, app)
        await pipeline.fold(DEALS)
        late = pipeline.discounts()[0]
        answer = await client.post(f"/v1/alerts/{late.alert_id}/decision", headers=ANA, json={"decision": "approved"})
        assert answer.status_code == 503 and "not recorded" in answer.json()["detail"]
        assert (await app.state.alert_store.get(late.alert_id))["decision"] is None
        await pipeline.redis.aclose()
