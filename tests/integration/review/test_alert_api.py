"""The alert feed REST API and access control, in process against the real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from services.review.app import create_app
from services.review.settings import ReviewSettings
from services.scoring.processor import DealProcessor
from services.shared.events import encode_event
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

from .conftest import make_alert

pytestmark = pytest.mark.integration

KEYS = "admin-key-01:admin,east-key-01:manager:East,multi-key-01:manager:East|West,dash-key-001:dashboard"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@asynccontextmanager
async def running(common_settings, api_keys: str | None = KEYS):
    settings = ReviewSettings(common=common_settings, alert_feed_enabled=False, api_keys=api_keys)
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
            yield app, client
    cleanup = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    async for key in cleanup.scan_iter(f"{common_settings.redis_prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def add(app, *alerts) -> list[str]:
    return [(await app.state.alert_store.append(a))[0] for a in alerts]


async def test_same_alert_appended_twice_is_on_the_feed_once(common_settings):
    async with running(common_settings) as (app, client):
        alert = make_alert()
        first, added = await app.state.alert_store.append(alert)
        again, added_again = await app.state.alert_store.append(dict(alert))
        assert (added, added_again) == (True, False) and again == first
        items = (await client.get("/v1/alerts", headers=h("admin-key-01"))).json()["items"]
        assert [i["alert_id"] for i in items] == [alert["alert_id"]]
        assert items[0]["cursor"] == first and items[0]["ack"] is None
        assert items[0]["value_at_risk"] == 10000.0 and items[0]["kind"] == "late_stage_discount"


async def test_newest_first_pages_with_a_stable_cursor(common_settings):
    async with running(common_settings) as (app, client):
        alerts = [make_alert() for _ in range(7)]
        await add(app, *alerts)
        seen, cursor = [], None
        while True:
            page = (
                await client.get(
                    "/v1/alerts",
                    params={"limit": 3} | ({"cursor": cursor} if cursor else {}),
                    headers=h("admin-key-01"),
                )
            ).json()
            seen.append([i["alert_id"] for i in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            # Alerts arriving between pages do not shift the pages already being walked.
            await add(app, make_alert())
        newest_first = [a["alert_id"] for a in reversed(alerts)]
        assert seen == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]
        bad = await client.get("/v1/alerts", params={"cursor": "garbage"}, headers=h("admin-key-01"))
        assert bad.status_code == 400 and bad.json()["detail"].startswith("cursor:")


async def test_after_returns_only_newer_alerts_oldest_first_for_pollers(common_settings):
    async with running(common_settings) as (app, client):
        alerts = [make_alert() for _ in range(5)]
        cursors = await add(app, *alerts)
        ids = [a["alert_id"] for a in alerts]
        by_id = (await client.get("/v1/alerts", params={"after": ids[1]}, headers=h("admin-key-01"))).json()
        assert [i["alert_id"] for i in by_id["items"]] == ids[2:] and by_id["next_cursor"] is None
        by_cursor = (await client.get("/v1/alerts", params={"after": cursors[3]}, headers=h("admin-key-01"))).json()
        assert [i["alert_id"] for i in by_cursor["items"]] == ids[4:]
        # A poller walking with limit=2 gets everything, in order, then an empty answer.
        got, after = [], "0"
        for _ in range(5):
            page = (
                await client.get("/v1/alerts", params={"after": after, "limit": 2}, headers=h("admin-key-01"))
            ).json()
            got += [i["alert_id"] for i in page["items"]]
            if page["items"]:
                after = page["items"][-1]["cursor"]
        assert got == ids
        unknown = await client.get("/v1/alerts", params={"after": "al-nope"}, headers=h("admin-key-01"))
        assert unknown.status_code == 400
        both = await client.get("/v1/alerts", params={"after": ids[0], "cursor": cursors[0]}, headers=h("admin-key-01"))
        assert both.status_code == 400


async def test_filters_team_manager_kind_since(common_settings):
    async with running(common_settings) as (app, client):
        east = make_alert(team="East", manager_id="m-1", occurred_at="2026-11-01T00:00:00+00:00")
        west = make_alert(team="West", manager_id="m-2", occurred_at="2026-11-10T00:00:00+00:00")
        info = make_alert(team="East", manager_id="m-1", kind="discount_info", occurred_at="2026-11-20T00:00:00+00:00")
        await add(app, east, west, info)

        async def ids(**params):
            answer = await client.get("/v1/alerts", params=params, headers=h("admin-key-01"))
            assert answer.status_code == 200, answer.text
            return [i["alert_id"] for i in answer.json()["items"]]

        assert await ids(team="East") == [info["alert_id"], east["alert_id"]]
        assert await ids(manager="m-2") == [west["alert_id"]]
        assert await ids(kind="late_stage_discount") == [west["alert_id"], east["alert_id"]]
        assert await ids(since="2026-11-05T00:00:00Z") == [info["alert_id"], west["alert_id"]]
        assert await ids(team="East", kind="discount_info", since="2026-11-15T00:00:00") == [info["alert_id"]]


async def test_ack_records_who_and_when_and_keeps_the_first(common_settings):
    async with running(common_settings) as (app, client):
        alert = make_alert(team="East")
        await add(app, alert)
        first = await client.post(f"/v1/alerts/{alert['alert_id']}/ack", json={"by": "ana"}, headers=h("east-key-01"))
        assert first.status_code == 200, first.text
        assert first.json()["ack"] == {"by": "ana", "at": "2026-11-26T12:00:00Z"}
        assert first.json()["alert_id"] == alert["alert_id"] and first.json()["cursor"]
        # Without `by`, the key's name is recorded; but the first ack stays.
        second = await client.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=h("admin-key-01"))
        assert second.status_code == 200 and second.json()["ack"]["by"] == "ana"
        listed = (await client.get("/v1/alerts", headers=h("dash-key-001"))).json()["items"]
        assert listed[0]["ack"] == {"by": "ana", "at": "2026-11-26T12:00:00Z"}
        assert (
            await client.post("/v1/alerts/al-unknown/ack", json={"by": "x"}, headers=h("admin-key-01"))
        ).status_code == 404

        other = make_alert(team="North")
        await add(app, other)
        by_key = await client.post(f"/v1/alerts/{other['alert_id']}/ack", headers=h("admin-key-01"))
        assert by_key.json()["ack"]["by"] == "admin"


async def test_access_to_alerts_by_role_and_team(common_settings):
    async with running(common_settings) as (app, client):
        east, west, north = make_alert(team="East"), make_alert(team="West"), make_alert(team="North")
        await add(app, east, west, north)
        assert (await client.get("/v1/alerts")).status_code == 401
        assert (await client.get("/v1/alerts", headers=h("wrong-key-01"))).status_code == 401
        bearer = await client.get("/v1/alerts", headers={"Authorization": "Bearer east-key-01"})
        assert [i["alert_id"] for i in bearer.json()["items"]] == [east["alert_id"]]
        multi = await client.get("/v1/alerts", headers=h("multi-key-01"))
        assert [i["alert_id"] for i in multi.json()["items"]] == [west["alert_id"], east["alert_id"]]
        # A key in the URL is no credential: URLs end up in logs.
        assert (await client.get("/v1/alerts", params={"api_key": "multi-key-01"})).status_code == 401
        assert (await client.get("/v1/alerts", params={"team": "West"}, headers=h("east-key-01"))).status_code == 403
        after = await client.get("/v1/alerts", params={"after": "0"}, headers=h("east-key-01"))
        assert [i["alert_id"] for i in after.json()["items"]] == [east["alert_id"]]
        assert len((await client.get("/v1/alerts", headers=h("dash-key-001"))).json()["items"]) == 3
        # Acks: dashboards never, managers only their own teams.
        assert (await client.post(f"/v1/alerts/{east['alert_id']}/ack", headers=h("dash-key-001"))).status_code == 403
        # Another team's alert answers exactly like an unknown one.
        foreign = await client.post(f"/v1/alerts/{west['alert_id']}/ack", headers=h("east-key-01"))
        unknown = await client.post("/v1/alerts/al-unknown/ack", headers=h("east-key-01"))
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["detail"] == f"alert_id: no alert {west['alert_id']!r}"
        assert unknown.json()["detail"] == "alert_id: no alert 'al-unknown'"
        assert (await client.post(f"/v1/alerts/{east['alert_id']}/ack", headers=h("east-key-01"))).status_code == 200
        # The stream refuses out-of-scope teams before streaming anything.
        assert (
            await client.get("/v1/alerts/stream", params={"team": "West"}, headers=h("east-key-01"))
        ).status_code == 403
        assert (await client.get("/v1/alerts/stream")).status_code == 401
        # Probes and docs stay open; /metrics of a locked review needs PR_METRICS_TOKEN, even with a valid key.
        for path in ("/healthz", "/readyz", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/metrics/")).status_code == 401
        assert (await client.get("/metrics/", headers=h("east-key-01"))).status_code == 401
        # ... and only they: /metrics is not a prefix.
        for path in ("/metricsX", "/metrics/../v1/alerts", "/metrics/x"):
            assert (await client.get(path)).status_code == 401, path


async def feed_deals(common_settings, *events):
    redis = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    processor = DealProcessor({}, redis, common_settings.keys, StageMap.load(DEFAULT_STAGE_MAP), _no_alerts)
    await processor.process([encode_event(e) for e in events])
    await redis.aclose()


async def _no_alerts(_alert):
    return None


async def test_manager_keys_see_only_their_teams_on_lists_and_deal_cards(common_settings):
    async with running(common_settings) as (_app, client):
        await feed_deals(
            common_settings,
            *[
                event(
                    deal_id=f"d{i}",
                    type="deal.created",
                    stage="Prospecting",
                    amount=1000 * i,
                    team=("East", "West", "North")[i % 3],
                    close_date="2026-12-15",
                )
                for i in range(1, 10)
            ],
        )

        async def walk(path, key, limit=2, **params):
            ids, cursor = [], None
            while True:
                answer = await client.get(
                    path, params={"limit": limit, **params} | ({"cursor": cursor} if cursor else {}), headers=h(key)
                )
                assert answer.status_code == 200, answer.text
                ids += [i["deal_id"] for i in answer.json()["items"]]
                cursor = answer.json()["next_cursor"]
                if cursor is None:
                    return ids

        assert await walk("/v1/lists/leader", "admin-key-01") == [f"d{i}" for i in range(9, 0, -1)]
        assert await walk("/v1/lists/leader", "east-key-01") == ["d9", "d6", "d3"]
        # Several teams: merged in rank order across the teams' rankings, paged without gaps.
        assert await walk("/v1/lists/leader", "multi-key-01") == ["d9", "d7", "d6", "d4", "d3", "d1"]
        assert await walk("/v1/lists/manager", "multi-key-01", limit=4) == ["d9", "d7", "d6", "d4", "d3", "d1"]
        assert await walk("/v1/lists/manager", "multi-key-01", team="West") == ["d7", "d4", "d1"]
        assert (
            await client.get("/v1/lists/leader", params={"team": "North"}, headers=h("east-key-01"))
        ).status_code == 403
        assert (await client.get("/v1/lists/manager")).status_code == 401
        assert (await client.get("/v1/deals/d3", headers=h("east-key-01"))).json()["team"] == "East"
        # Another team's deal looks absent to a manager key.
        assert (await client.get("/v1/deals/d4", headers=h("east-key-01"))).status_code == 404
        assert (await client.get("/v1/deals/d4", headers=h("dash-key-001"))).status_code == 200
        assert (await client.get("/v1/deals/d3")).status_code == 401


async def test_open_mode_without_keys_lets_everyone_in_and_warns(common_settings, caplog):
    caplog.set_level("WARNING")
    async with running(common_settings, api_keys=None) as (app, client):
        alert = make_alert()
        await add(app, alert)
        assert (await client.get("/v1/alerts")).json()["items"][0]["alert_id"] == alert["alert_id"]
        assert (await client.get("/v1/lists/leader")).status_code == 200
        # Nobody is named by a key, so an ack must say who.
        assert (await client.post(f"/v1/alerts/{alert['alert_id']}/ack")).status_code == 422
        assert (await client.post(f"/v1/alerts/{alert['alert_id']}/ack", json={"by": "bo"})).json()["ack"]["by"] == "bo"
    assert any("NO API KEYS CONFIGURED" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


async def test_principal_is_on_request_state_for_other_routes(common_settings):
    async with running(common_settings) as (app, client):

        @app.get("/v1/whoami")
        async def whoami(request: __import__("fastapi").Request):
            p = request.state.principal
            return {"name": p.name, "role": p.role, "teams": sorted(p.teams) if p.teams is not None else None}

        assert (await client.get("/v1/whoami", headers=h("multi-key-01"))).json() == {
            "name": "manager:East|West",
            "role": "manager",
            "teams": ["East", "West"],
        }
        assert (await client.get("/v1/whoami")).status_code == 401


async def test_openapi_documents_the_alert_endpoints_with_examples(common_settings):
    async with running(common_settings) as (_app, client):
        spec = (await client.get("/openapi.json")).json()
        for path, method in (
            ("/v1/alerts", "get"),
            ("/v1/alerts/{alert_id}/ack", "post"),
            ("/v1/alerts/stream", "get"),
        ):
            operation = spec["paths"][path][method]
            assert operation["description"], path
            assert "401" in operation["responses"] and "403" in operation["responses"]
        assert "oldest first" in spec["paths"]["/v1/alerts"]["get"]["description"]
        schemas = spec["components"]["schemas"]
        for name in ("AlertItem", "AlertPage", "AckRequest", "StreamMessage"):
            assert schemas[name].get("examples"), name
        assert "text/event-stream" in spec["paths"]["/v1/alerts/stream"]["get"]["responses"]["200"]["content"]
        assert json.dumps(spec)  # serialisable


def b64(raw: str) -> str:
    import base64

    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def test_hostile_cursors_and_amounts_get_a_4xx_naming_the_parameter(common_settings):
    async with running(common_settings) as (app, client):
        await add(app, make_alert())
        for cursor in (b64('[NaN,"api:x"]'), b64('[Infinity,"api:x"]'), b64('[-Infinity,"api:x"]')):
            for which in ("leader", "manager"):
                answer = await client.get(f"/v1/lists/{which}", params={"cursor": cursor}, headers=h("admin-key-01"))
                assert answer.status_code == 400 and answer.json()["detail"].startswith("cursor:"), answer.text
        for amount in ("inf", "-inf", "nan", "Infinity"):
            answer = await client.get("/v1/lists/manager", params={"min_amount": amount}, headers=h("admin-key-01"))
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"][0]["loc"] == ["query", "min_amount"]
        huge = f"{2**64}-0"
        for params in (
            {"cursor": huge},
            {"cursor": f"1-{2**64}"},
            {"cursor": "0-0"},
            {"cursor": "0"},
            {"after": huge},
            {"after": "99999999999999999999-99999999999999999999"},
        ):
            answer = await client.get("/v1/alerts", params=params, headers=h("admin-key-01"))
            assert answer.status_code == 400, (params, answer.text)
            assert answer.json()["detail"].startswith(("cursor:", "after:")), answer.text
        # The edges that are valid positions answer normally.
        largest = f"{2**64 - 1}-{2**64 - 1}"
        assert (await client.get("/v1/alerts", params={"after": largest}, headers=h("admin-key-01"))).json() == {
            "items": [],
            "next_cursor": None,
        }
        assert (
            len((await client.get("/v1/alerts", params={"after": "0-0"}, headers=h("admin-key-01"))).json()["items"])
            == 1
        )
        assert (
            len((await client.get("/v1/alerts", params={"cursor": largest}, headers=h("admin-key-01"))).json()["items"])
            == 1
        )
        stream = await client.get("/v1/alerts/stream", params={"cursor": huge}, headers=h("admin-key-01"))
        assert stream.status_code == 400 and stream.json()["detail"].startswith("cursor:")


async def test_stream_tokens_are_scoped_short_lived_single_use_and_open_only_the_stream(common_settings):
    async with running(common_settings) as (app, client):
        east, west = make_alert(team="East"), make_alert(team="West")
        await add(app, east, west)
        assert (await client.post("/v1/alerts/stream-token")).status_code == 401
        assert (await client.post("/v1/alerts/stream-token", params={"api_key": "east-key-01"})).status_code == 401
        issued = await client.post("/v1/alerts/stream-token", headers=h("east-key-01"))
        assert issued.status_code == 201, issued.text
        token, expires_at = issued.json()["token"], dt.datetime.fromisoformat(issued.json()["expires_at"])
        assert expires_at == NOW + dt.timedelta(seconds=60) and len(token) >= 32
        # Stored by hash, with a TTL of at most 60 s, scoped like the key.
        raw = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
        stored = [k async for k in raw.scan_iter(f"{common_settings.redis_prefix}:stream-token:*")]
        assert len(stored) == 1 and token.encode() not in stored[0]
        assert 0 < await raw.pttl(stored[0]) <= 60_000
        assert json.loads(await raw.get(stored[0])) == {"name": "manager:East", "role": "manager", "teams": ["East"]}
        await raw.aclose()
        # Only for the stream: no other route takes it.
        assert (await client.get("/v1/alerts", params={"token": token})).status_code == 401
        # The token carries the key's scope: another team is refused (and the token is spent).
        assert (await client.get("/v1/alerts/stream", params={"token": token, "team": "West"})).status_code == 403
        assert (await client.get("/v1/alerts/stream", params={"token": token})).status_code == 401
        unknown = await client.get("/v1/alerts/stream", params={"token": "not-a-token"})
        assert unknown.status_code == 401 and "stream token" in unknown.json()["detail"]
        # Every role may get one (dashboards read the stream too).
        assert (await client.post("/v1/alerts/stream-token", headers=h("dash-key-001"))).status_code == 201


async def test_stream_token_ttl_is_a_setting_capped_at_60_seconds(common_settings):
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="stream_token_ttl"):
        ReviewSettings(common=common_settings, stream_token_ttl=61)
    settings = ReviewSettings(common=common_settings, alert_feed_enabled=False, api_keys=KEYS, stream_token_ttl=0.3)
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
            token = (await client.post("/v1/alerts/stream-token", headers=h("admin-key-01"))).json()["token"]
            await asyncio.sleep(0.6)
            assert (await client.get("/v1/alerts/stream", params={"token": token})).status_code == 401


async def test_alert_pages_read_a_bounded_number_of_entries_and_say_where_to_go_on(common_settings):
    settings = ReviewSettings(common=common_settings, alert_feed_enabled=False, api_keys=KEYS, max_scan_rows=5)
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
            west = [make_alert(team="West") for _ in range(12)]
            east = [make_alert(team="East"), make_alert(team="East")]
            cursors = await add(app, east[0], *west, east[1])
            # Newest first: east[1], then 12 West entries before east[0]; pages stop after 5 entries read.
            pages, cursor = [], None
            while True:
                answer = (
                    await client.get(
                        "/v1/alerts",
                        params={"team": "East", "limit": 10} | ({"cursor": cursor} if cursor else {}),
                        headers=h("admin-key-01"),
                    )
                ).json()
                pages.append([i["alert_id"] for i in answer["items"]])
                cursor = answer["next_cursor"]
                if cursor is None:
                    break
            assert pages == [[east[1]["alert_id"]], [], [east[0]["alert_id"]]]
            # Pollers too: oldest first from the start, with a continuation cursor past non-matching entries.
            first = (
                await client.get(
                    "/v1/alerts", params={"team": "East", "after": "0", "limit": 10}, headers=h("admin-key-01")
                )
            ).json()
            assert [i["alert_id"] for i in first["items"]] == [east[0]["alert_id"]]
            assert first["next_cursor"] == cursors[4]
            got, after = [], first["next_cursor"]
            while after is not None:
                page = (
                    await client.get(
                        "/v1/alerts", params={"team": "East", "after": after, "limit": 10}, headers=h("admin-key-01")
                    )
                ).json()
                got += [i["alert_id"] for i in page["items"]]
                after = page["next_cursor"]
            assert got == [east[1]["alert_id"]]
    cleanup = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    async for key in cleanup.scan_iter(f"{common_settings.redis_prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()


async def test_list_pages_read_a_bounded_number_of_rows_and_say_where_to_go_on(common_settings):
    settings = ReviewSettings(common=common_settings, alert_feed_enabled=False, api_keys=KEYS, max_scan_rows=4)
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
            # d1..d10 ranked by amount; East holds the even ones, West the odd ones; owner u-1 only d10, d3, d2.
            await feed_deals(
                common_settings,
                *[
                    event(
                        deal_id=f"d{i}",
                        type="deal.created",
                        stage="Prospecting",
                        amount=1000 * i,
                        team=("East", "West")[i % 2],
                        close_date="2026-12-15",
                        owner_id="u-1" if i in (10, 3, 2) else "u-2",
                    )
                    for i in range(1, 11)
                ],
            )

            async def walk(path, key, limit, **params):
                pages, cursor = [], None
                while True:
                    answer = await client.get(
                        path, params={"limit": limit, **params} | ({"cursor": cursor} if cursor else {}), headers=h(key)
                    )
                    assert answer.status_code == 200, answer.text
                    pages.append([i["deal_id"] for i in answer.json()["items"]])
                    cursor = answer.json()["next_cursor"]
                    if cursor is None:
                        return pages

            # team East is a ranking; the owner is checked on the cards. The first page reads 4 rows
            # (d10 d8 d6 d4) and stops short of full, with a cursor; the next reads d2 and ends.
            for which in ("leader", "manager"):
                assert await walk(f"/v1/lists/{which}", "admin-key-01", 10, team="East", owner="u-1") == [
                    ["d10"],
                    ["d2"],
                ]
            # Several teams (a manager key's scope): East stops after d4, West after d3; the merged page
            # may only go down to d4, so d3 waits for the next page.
            assert await walk("/v1/lists/leader", "multi-key-01", 10, owner="u-1") == [["d10"], ["d3", "d2"]]
            # Unfiltered pages are unchanged: full pages, and a last page without cursor.
            assert await walk("/v1/lists/leader", "admin-key-01", 3) == [
                ["d10", "d9", "d8"],
                ["d7", "d6", "d5"],
                ["d4", "d3", "d2"],
                ["d1"],
            ]
    cleanup = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    async for key in cleanup.scan_iter(f"{common_settings.redis_prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()


async def test_a_stream_token_issued_by_one_instance_opens_the_stream_on_another(common_settings):
    settings = ReviewSettings(common=common_settings, alert_feed_enabled=False, api_keys=KEYS)
    first, second = create_app(settings, clock=lambda: NOW), create_app(settings, clock=lambda: NOW)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        one = httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://review-1")
        two = httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://review-2")
        async with one, two:
            token = (await one.post("/v1/alerts/stream-token", headers=h("east-key-01"))).json()["token"]
            # Out of scope on the second instance: the token carried the manager's teams across.
            assert (await two.get("/v1/alerts/stream", params={"token": token, "team": "West"})).status_code == 403
            # Spent there, so the first instance refuses it too.
            assert (await one.get("/v1/alerts/stream", params={"token": token})).status_code == 401
