"""The webhook routes on a minimal FastAPI app, with the caller set by a tiny middleware (real Redis)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Request

from pipeline_review.review.webhooks import WebhookKeys
from pipeline_review.review.webhooks_api import add_webhook_routes

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis):
    redis_client, keys = redis
    app = FastAPI()

    @app.middleware("http")
    async def principal(request: Request, call_next):
        # X-Test-Role / X-Test-Teams stand in for the review app's authentication.
        role = request.headers.get("x-test-role")
        if role:
            teams = request.headers.get("x-test-teams")
            request.state.principal = SimpleNamespace(
                name=f"{role}-user", role=role, teams=frozenset(teams.split(",")) if teams else None)
        return await call_next(request)

    add_webhook_routes(app, redis_client, keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        yield http


def as_(role: str, teams: str | None = None) -> dict[str, str]:
    return {"x-test-role": role} | ({"x-test-teams": teams} if teams else {})


MANAGER_EAST = as_("manager", "East")


async def subscribe(client, headers=None, **body):
    return await client.post("/v1/webhooks", json={"url": "https://hooks.example.com/x"} | body, headers=headers or {})


async def test_subscribe_returns_id_and_secret_once(client):
    created = await subscribe(client, format="slack", filter={"teams": ["East"], "min_severity": "medium"},
                              description="East alerts")
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("wh-") and len(body["secret"]) >= 32
    assert body["format"] == "slack" and body["filter"]["teams"] == ["East"]
    assert body["filter"]["kinds"] == ["late_stage_discount"]
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"

    one = (await client.get(f"/v1/webhooks/{body['id']}")).json()
    assert "secret" not in one and one["url"] == "https://hooks.example.com/x"
    assert one["stats"] == {"delivered": 0, "failed_attempts": 0, "dead_letters": 0}
    listed = (await client.get("/v1/webhooks")).json()
    assert [s["id"] for s in listed["items"]] == [body["id"]] and listed["next_cursor"] is None
    assert "secret" not in listed["items"][0]


async def test_delete_unsubscribes(client):
    sub_id = (await subscribe(client)).json()["id"]
    assert (await client.delete(f"/v1/webhooks/{sub_id}")).status_code == 204
    assert (await client.get(f"/v1/webhooks/{sub_id}")).status_code == 404
    assert (await client.delete(f"/v1/webhooks/{sub_id}")).status_code == 404
    assert (await client.get("/v1/webhooks")).json()["items"] == []


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "not a url", "mailto:someone@example.com", "https://"])
async def test_a_bad_url_is_a_422_naming_the_field(client, url):
    answer = await subscribe(client, url=url)
    assert answer.status_code == 422
    assert any(err["loc"][-1] == "url" for err in answer.json()["detail"])


async def test_a_bad_format_or_filter_is_a_422(client):
    assert (await subscribe(client, format="xml")).status_code == 422
    answer = await subscribe(client, filter={"kinds": ["everything"]})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][:2] == ["body", "filter"]
    assert (await subscribe(client, filter={"min_value_at_risk": -1})).status_code == 422


async def test_a_manager_may_only_subscribe_within_its_teams(client):
    out_of_scope = await subscribe(client, MANAGER_EAST, filter={"teams": ["West"]})
    assert out_of_scope.status_code == 403 and "filter.teams" in out_of_scope.json()["detail"]
    assert (await subscribe(client, MANAGER_EAST, filter={"teams": ["East", "West"]})).status_code == 403
    assert (await subscribe(client, MANAGER_EAST, filter={"teams": None})).status_code == 403

    inside = await subscribe(client, MANAGER_EAST, filter={"teams": ["East"]})
    assert inside.status_code == 201 and inside.json()["created_by"] == "manager-user"
    defaulted = await subscribe(client, MANAGER_EAST, filter={"min_severity": "high"})
    assert defaulted.status_code == 201 and defaulted.json()["filter"]["teams"] == ["East"]
    assert (await subscribe(client, as_("manager"), filter={"teams": None})).status_code == 201  # all teams


async def test_a_manager_sees_only_its_own_teams_subscriptions(client):
    east = (await subscribe(client, filter={"teams": ["East"]})).json()["id"]
    west = (await subscribe(client, filter={"teams": ["West"]})).json()["id"]
    everyone = (await subscribe(client)).json()["id"]

    listed = (await client.get("/v1/webhooks", headers=MANAGER_EAST)).json()["items"]
    assert [s["id"] for s in listed] == [east]
    for hidden in (west, everyone):
        assert (await client.get(f"/v1/webhooks/{hidden}", headers=MANAGER_EAST)).status_code == 404
        assert (await client.get(f"/v1/webhooks/{hidden}/dead-letters", headers=MANAGER_EAST)).status_code == 404
        assert (await client.delete(f"/v1/webhooks/{hidden}", headers=MANAGER_EAST)).status_code == 404
    assert (await client.get(f"/v1/webhooks/{east}", headers=MANAGER_EAST)).status_code == 200
    assert (await client.delete(f"/v1/webhooks/{east}", headers=MANAGER_EAST)).status_code == 204
    assert {s["id"] for s in (await client.get("/v1/webhooks", headers=as_("admin"))).json()["items"]} == {west, everyone}


async def test_a_dashboard_may_only_read(client):
    sub_id = (await subscribe(client, filter={"teams": ["East"]})).json()["id"]
    dashboard = as_("dashboard", "East")
    assert (await subscribe(client, dashboard, filter={"teams": ["East"]})).status_code == 403
    assert (await client.delete(f"/v1/webhooks/{sub_id}", headers=dashboard)).status_code == 403
    assert (await client.get(f"/v1/webhooks/{sub_id}", headers=dashboard)).status_code == 200
    assert len((await client.get("/v1/webhooks", headers=dashboard)).json()["items"]) == 1
    assert (await client.get(f"/v1/webhooks/{sub_id}", headers=as_("intern"))).status_code == 404
    assert (await subscribe(client, as_("intern"))).status_code == 403


async def test_subscriptions_page_with_a_cursor(client):
    ids = [(await subscribe(client)).json()["id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        page = (await client.get("/v1/webhooks", params={"limit": 2} | ({"cursor": cursor} if cursor else {}))).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    assert (await client.get("/v1/webhooks", params={"cursor": "nope"})).status_code == 400


async def test_dead_letters_page_newest_first(client, redis):
    redis_client, keys = redis
    sub_id = (await subscribe(client)).json()["id"]
    for n in range(3):
        record = {"subscription_id": sub_id, "alert": {"alert_id": f"al-{n}"}, "attempts": 3, "last_error": "HTTP 500"}
        await redis_client.xadd(WebhookKeys(keys.prefix).dead_letters(sub_id), {"record": json.dumps(record)})

    first = (await client.get(f"/v1/webhooks/{sub_id}/dead-letters", params={"limit": 2})).json()
    assert [d["alert"]["alert_id"] for d in first["items"]] == ["al-2", "al-1"]
    assert first["items"][0]["attempts"] == 3 and first["items"][0]["last_error"] == "HTTP 500"
    second = (await client.get(f"/v1/webhooks/{sub_id}/dead-letters",
                               params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [d["alert"]["alert_id"] for d in second["items"]] == ["al-0"] and second["next_cursor"] is None
    bad = await client.get(f"/v1/webhooks/{sub_id}/dead-letters", params={"cursor": "x"})
    assert bad.status_code == 400
