"""API key parsing and principals (pure)."""

from __future__ import annotations

import json

import pytest

from pipeline_review.review.access import (
    OPEN_ADMIN,
    KeyConfigError,
    KeyTable,
    Principal,
    is_open_path,
    key_from_request,
    load_keys_file,
    parse_keys_text,
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


@pytest.mark.parametrize("text, message", [
    ("short:admin", "at least 8"),
    ("longenough1:boss", "role must be"),
    ("longenough1:manager", "at least one team"),
    ("longenough1:admin:East", "only manager keys"),
    ("a:b:c:d", "expected key:role"),
    ("[{bad json", "not valid JSON"),
    ("longenough1:admin,longenough1:dashboard", "configured twice"),
])
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


def test_key_is_read_from_header_bearer_or_query():
    assert key_from_request({"x-api-key": " k1 "}, b"") == "k1"
    assert key_from_request({"authorization": "Bearer k2"}, b"api_key=k3") == "k2"
    assert key_from_request({}, b"team=East&api_key=k3") == "k3"
    assert key_from_request({"authorization": "Basic abc"}, b"") is None


def test_probes_docs_and_dashboard_stay_open_but_the_api_does_not():
    for path in ("/", "/healthz", "/readyz", "/metrics", "/metrics/", "/docs", "/openapi.json", "/static/app.js"):
        assert is_open_path(path), path
    for path in ("/v1/alerts", "/v1/lists/leader", "/v1/alerts/stream", "/v1/deals/x", "/staticx"):
        assert not is_open_path(path), path
