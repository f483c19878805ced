"""API key parsing and principals (pure)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from services.review.access import (
    OPEN_ADMIN,
    AccessMiddleware,
    KeyConfigError,
    KeyTable,
    Principal,
    is_open_path,
    load_keys_file,
    parse_keys_text,
    principal_of,
    token_from_query,
)

pytestmark = pytest.mark.unit


def test_compact_format_gives_roles_teams_and_names():
    table = KeyTable(parse_keys_text("adminkey01:admin, mgrkey0001:manager:East|West ,dashkey001:dashboard"))
    assert table.resolve("adminkey01") == Principal("admin", "admin", None)
    assert table.resolve("mgrkey0001") == Principal("manager:East|West", "manager", frozenset({"East", "West"}))
    assert table.resolve("dashkey001").role == "dashboard"
    assert table.resolve("dashkey001").can_write is False
    assert table.resolve("nope") is None and table.resolve(None) is None


def test_json_format_keeps_the_given_name():
    text = json.dumps([{"key": "k-ana-12345", "role": "manager", "teams": ["East"], "name": "ana"}])
    principal = KeyTable(parse_keys_text(text)).resolve("k-ana-12345")
    assert principal == Principal("ana", "manager", frozenset({"East"}))
    assert principal.sees_team("East") and not principal.sees_team("West") and not principal.sees_team(None)


@pytest.mark.parametrize(
    "text, message",
    [
        ("short:admin", "at least 8"),
        ("longenough1:boss", "role must be"),
        ("longenough1:manager", "at least one team"),
        ("longenough1:admin:East", "only manager keys"),
        ("a:b:c:d", "expected key:role"),
        ("[{bad json", "not valid JSON"),
        ("longenough1:admin,longenough1:dashboard", "configured twice"),
    ],
)
def test_bad_key_configuration_is_refused_with_the_reason(text, message):
    with pytest.raises(KeyConfigError, match=message):
        KeyTable(parse_keys_text(text))


def test_key_files_in_json_and_toml(tmp_path):
    js = tmp_path / "keys.json"
    js.write_text(json.dumps({"keys": [{"key": "json-key-001", "role": "admin"}]}))
    toml = tmp_path / "keys.toml"
    toml.write_text('[[keys]]\nkey = "toml-key-001"\nrole = "manager"\nteams = ["North"]\nname = "nils"\n')
    assert load_keys_file(js)[0][1].role == "admin"
    assert load_keys_file(toml) == [("toml-key-001", Principal("nils", "manager", frozenset({"North"})))]
    table = KeyTable.from_settings("env-key-001:dashboard", toml)
    assert table.resolve("env-key-001").role == "dashboard" and table.resolve("toml-key-001").name == "nils"


def test_no_keys_means_open_mode_with_an_anonymous_admin():
    table = KeyTable.from_settings(None, None)
    assert table.open
    assert table.resolve(None) is OPEN_ADMIN and OPEN_ADMIN.teams is None and OPEN_ADMIN.can_write


def test_only_a_stream_token_is_read_from_the_url():
    # Keys come from headers only (shared.auth.key_from_headers, tested in test_shared_auth).
    assert token_from_query(b"team=East&token=t-1") == "t-1" and token_from_query(b"api_key=k3") is None


def test_probes_docs_and_dashboard_stay_open_but_the_api_does_not():
    for path in ("/", "/healthz", "/readyz", "/metrics", "/metrics/", "/docs", "/openapi.json", "/static/app.js"):
        assert is_open_path(path), path
    for path in (
        "/v1/alerts",
        "/v1/lists/leader",
        "/v1/alerts/stream",
        "/v1/deals/x",
        "/staticx",
        "/metricsX",
        "/metrics/x",
        "/metrics/../v1/alerts",
        "/static/../v1/alerts",
        "/static/./x",
    ):
        assert not is_open_path(path), path


def run_asgi(middleware, path, query=b"", headers=()):
    """Send one HTTP request through ``middleware``; (status, principal seen by the app)."""
    seen, sent = {}, []

    async def app(scope, receive, send):
        seen["principal"] = scope["state"]["principal"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "path": path,
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in headers],
    }
    asyncio.run(middleware(app)(scope, receive, send))
    return sent[0]["status"], seen.get("principal"), sent


def test_open_mode_sets_the_open_principal_explicitly_and_locked_mode_refuses_without_one():
    open_mw = lambda app: AccessMiddleware(app, KeyTable([]))  # noqa: E731
    assert run_asgi(open_mw, "/v1/alerts")[:2] == (200, OPEN_ADMIN)
    locked = lambda app: AccessMiddleware(app, KeyTable(parse_keys_text("adminkey01:admin")))  # noqa: E731
    status, principal, sent = run_asgi(locked, "/v1/alerts")
    assert (status, principal) == (401, None) and b"X-API-Key" in sent[1]["body"]
    # A key in the query string is not a credential any more.
    assert run_asgi(locked, "/v1/alerts", b"api_key=adminkey01")[0] == 401
    assert run_asgi(locked, "/v1/alerts", headers=[("x-api-key", "adminkey01")])[1].role == "admin"
    assert run_asgi(locked, "/metricsX")[0] == 401 and run_asgi(locked, "/metrics")[0] == 200


def test_a_stream_token_opens_only_the_stream_routes():
    redeemed = []
    ana = Principal("ana", "manager", frozenset({"East"}))

    async def redeem(token):
        redeemed.append(token)
        return ana if token == "good" else None

    mw = lambda app: AccessMiddleware(app, KeyTable(parse_keys_text("adminkey01:admin")), redeem)  # noqa: E731
    assert run_asgi(mw, "/v1/alerts/stream", b"token=good")[:2] == (200, ana)
    status, _, sent = run_asgi(mw, "/v1/alerts/stream", b"token=bad")
    assert status == 401 and b"stream token" in sent[1]["body"]
    assert run_asgi(mw, "/v1/alerts", b"token=good")[0] == 401
    assert redeemed == ["good", "bad"]


def test_a_token_store_that_is_down_is_a_503_not_a_500():
    async def redeem(token):
        raise ConnectionError("redis down")

    mw = lambda app: AccessMiddleware(app, KeyTable(parse_keys_text("adminkey01:admin")), redeem)  # noqa: E731
    status, principal, sent = run_asgi(mw, "/v1/alerts/stream", b"token=any")
    assert (status, principal) == (503, None) and b"Redis unavailable" in sent[1]["body"]
    # Key holders are not affected: a header key needs no Redis.
    assert run_asgi(mw, "/v1/alerts/stream", b"token=any", headers=[("x-api-key", "adminkey01")])[0] == 200


def test_principal_of_without_a_principal_is_a_401_never_an_admin():
    request = SimpleNamespace(state=SimpleNamespace(principal=None))
    with pytest.raises(HTTPException) as refused:
        principal_of(request)
    assert refused.value.status_code == 401
    with pytest.raises(HTTPException):
        principal_of(SimpleNamespace(state=SimpleNamespace()))
