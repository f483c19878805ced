"""The webhook routes on a minimal FastAPI app, with the caller set by a tiny middleware (real Redis)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Request

from services.review.webhooks.api import add_webhook_routes
from services.review.webhooks.guard import system_resolve
from services.review.webhooks.settings import WebhookSettings

pytestmark = pytest.mark.integration

# The machine running the tests has no DNS: these names stand in for real ones ("redis" and
# "kafka" as on the docker compose network). Other names go to the system resolver, which
# knows localhost and numeric spellings like 2130706433 without DNS.
DNS = {
    "hooks.example.com": ["93.184.215.14"],
    "hooks.slack.com": ["34.226.36.60"],
    "internal.example": ["10.0.4.2"],
    "split.example": ["93.184.215.14", "169.254.169.254"],
    "intranet.example": ["10.20.0.7"],
    "redis": ["172.18.0.3"],
    "kafka": ["172.18.0.4"],
}


async def fake_resolve(host: str, port: int) -> list[str]:
    return DNS[host] if host in DNS else await system_resolve(host, port)


def build_client(redis, settings: WebhookSettings | None = None):
    redis_client, keys = redis
    app = FastAPI()

    @app.middleware("http")
    async def principal(request: Request, call_next):
        # X-Test-Role / X-Test-Teams stand in for the review app's authentication; without them
        # the caller is an admin, as review's open mode sets explicitly. X-Test-Role: none sets no
        # principal at all (what a locked review passes on for an unknown key).
        role = request.headers.get("x-test-role", "admin")
        if role != "none":
            teams = request.headers.get("x-test-teams")
            request.state.principal = SimpleNamespace(
                name=f"{role}-user", role=role, teams=frozenset(teams.split(",")) if teams else None
            )
        return await call_next(request)

    add_webhook_routes(app, redis_client, keys, settings=settings or WebhookSettings(), resolver=fake_resolve)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


@pytest.fixture
async def client(redis):
    async with build_client(redis) as http:
        yield http


def as_(role: str, teams: str | None = None) -> dict[str, str]:
    return {"x-test-role": role} | ({"x-test-teams": teams} if teams else {})


MANAGER_EAST = as_("manager", "East")


async def subscribe(client, headers=None, **body):
    return await client.post("/v1/webhooks", json={"url": "https://hooks.example.com/x"} | body, headers=headers or {})


async def test_subscribe_returns_id_and_secret_once(client):
    created = await subscribe(
        client, format="slack", filter={"teams": ["East"], "min_severity": "medium"}, description="East alerts"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("wh-") and len(body["secret"]) >= 32
    assert body["format"] == "slack" and body["filter"]["teams"] == ["East"]
    assert body["filter"]["kinds"] == ["late_stage_discount"]
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"

    assert body["url"] == "https://hooks.example.com/x" and body["host"] == "hooks.example.com"
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


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://localhost:9092/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.1.1/", "CGNAT"),
        ("http://10.1.1.1/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://[fd00::1]/", "unique-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0:8002/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("https://internal.example/hook", "private"),
        ("https://split.example/hook", "link-local"),
        ("http://redis:6379/", "private"),
        ("http://kafka:9092/", "private"),
        ("https://nowhere.invalid/hook", "does not resolve"),
    ],
)
async def test_a_url_reaching_inside_is_a_422_naming_the_problem(client, url, why):
    answer = await subscribe(client, url=url)
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "url"] and why in error["msg"]
    assert (await client.get("/v1/webhooks")).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://user:password@hooks.example.com/x",
        "https://token@hooks.example.com/x",
        "gopher://hooks.example.com/x",
        "file:///etc/passwd",
    ],
)
async def test_user_info_and_other_schemes_are_a_422(client, url):
    answer = await subscribe(client, url=url)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "url"


async def test_allow_nets_admits_named_networks(redis):
    settings = WebhookSettings(allow_nets="10.20.0.0/16,127.0.0.0/8")
    async with build_client(redis, settings) as client:
        assert (await subscribe(client, url="https://intranet.example/hook")).status_code == 201
        assert (await subscribe(client, url="http://127.0.0.1:8080/hook")).status_code == 201
        assert (await subscribe(client, url="https://internal.example/hook")).status_code == 422  # 10.0.4.2


async def test_subscriptions_per_caller_are_capped(redis):
    async with build_client(redis, WebhookSettings(max_per_caller=2)) as client:
        east = [(await subscribe(client, MANAGER_EAST)).json()["id"] for _ in range(2)]
        third = await subscribe(client, MANAGER_EAST)
        assert third.status_code == 409 and "PR_REVIEW_WEBHOOK_MAX_PER_CALLER" in third.json()["detail"]
        assert (await subscribe(client, as_("admin"))).status_code == 201  # another caller has its own allowance
        assert (await client.delete(f"/v1/webhooks/{east[0]}", headers=MANAGER_EAST)).status_code == 204
        assert (await subscribe(client, MANAGER_EAST)).status_code == 201


async def test_only_admins_see_full_urls(client, redis):
    redis_client, keys = redis
    secret_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    created = (await subscribe(client, MANAGER_EAST, url=secret_url, format="slack")).json()
    assert created["url"] == secret_url  # the creator just sent it
    record = {
        "subscription_id": created["id"],
        "url": secret_url,
        "alert": {"alert_id": "al-1"},
        "attempts": 3,
        "last_error": "ConnectError: [Errno 111] Connection refused",
        "last_status": None,
    }
    await redis_client.xadd(keys.webhook_dead_letters(created["id"]), {"record": json.dumps(record)})

    for read in (f"/v1/webhooks/{created['id']}", "/v1/webhooks"):
        as_manager = (await client.get(read, headers=MANAGER_EAST)).json()
        one = as_manager["items"][0] if "items" in as_manager else as_manager
        assert one["url"] is None and one["host"] == "hooks.slack.com"
        as_admin = (await client.get(read, headers=as_("admin"))).json()
        one = as_admin["items"][0] if "items" in as_admin else as_admin
        assert one["url"] == secret_url and one["host"] == "hooks.slack.com"
    dead = (await client.get(f"/v1/webhooks/{created['id']}/dead-letters", headers=MANAGER_EAST)).json()["items"][0]
    assert dead["url"] is None and dead["host"] == "hooks.slack.com"
    assert dead["last_error"] == "connection failed"  # an older record's exception text is not shown
    assert "XXXXSECRET" not in json.dumps(
        (await client.get(f"/v1/webhooks/{created['id']}/dead-letters", headers=MANAGER_EAST)).json()
    )


async def test_stored_error_text_is_shown_generic(client, redis):
    redis_client, keys = redis
    sub_id = (await subscribe(client)).json()["id"]
    await redis_client.hset(
        keys.webhook_stats(sub_id), mapping={"last_error": "ReadError: redis_version:7.2.4", "last_status": ""}
    )
    stats = (await client.get(f"/v1/webhooks/{sub_id}")).json()["stats"]
    assert stats["last_error"] == "connection failed" and stats["last_status"] is None


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
    assert {s["id"] for s in (await client.get("/v1/webhooks", headers=as_("admin"))).json()["items"]} == {
        west,
        everyone,
    }


async def test_a_dashboard_key_cannot_read_subscriptions_or_dead_letters(client):
    sub_id = (await subscribe(client, filter={"teams": ["East"]})).json()["id"]
    for caller in (as_("dashboard", "East"), as_("dashboard"), as_("intern")):
        assert (await subscribe(client, caller, filter={"teams": ["East"]})).status_code == 403
        assert (await client.delete(f"/v1/webhooks/{sub_id}", headers=caller)).status_code == 403
        for read in (
            "/v1/webhooks",
            f"/v1/webhooks/{sub_id}",
            f"/v1/webhooks/{sub_id}/dead-letters",
            "/v1/webhooks/wh-unknown",
        ):
            answer = await client.get(read, headers=caller)
            assert answer.status_code == 403 and "admin or manager" in answer.json()["detail"]
    assert (await client.get(f"/v1/webhooks/{sub_id}", headers=as_("admin"))).status_code == 200


async def test_a_request_without_a_principal_is_a_401_on_every_webhook_route(client):
    sub_id = (await subscribe(client)).json()["id"]
    nobody = as_("none")
    answers = [await subscribe(client, nobody), await client.delete(f"/v1/webhooks/{sub_id}", headers=nobody)]
    for read in ("/v1/webhooks", f"/v1/webhooks/{sub_id}", f"/v1/webhooks/{sub_id}/dead-letters"):
        answers.append(await client.get(read, headers=nobody))
    assert [a.status_code for a in answers] == [401] * 5
    assert all("API key" in a.json()["detail"] for a in answers)
    assert (await client.get(f"/v1/webhooks/{sub_id}")).status_code == 200


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
        await redis_client.xadd(keys.webhook_dead_letters(sub_id), {"record": json.dumps(record)})

    first = (await client.get(f"/v1/webhooks/{sub_id}/dead-letters", params={"limit": 2})).json()
    assert [d["alert"]["alert_id"] for d in first["items"]] == ["al-2", "al-1"]
    assert first["items"][0]["attempts"] == 3 and first["items"][0]["last_error"] == "HTTP 500"
    second = (
        await client.get(f"/v1/webhooks/{sub_id}/dead-letters", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [d["alert"]["alert_id"] for d in second["items"]] == ["al-0"] and second["next_cursor"] is None
    bad = await client.get(f"/v1/webhooks/{sub_id}/dead-letters", params={"cursor": "x"})
    assert bad.status_code == 400
