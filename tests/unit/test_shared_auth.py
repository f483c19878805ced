"""The shared key-table pieces and the open-mode decision (services/shared/auth.py)."""

from __future__ import annotations

import json
import logging

import pytest

from services.ingest.auth import DEFAULT_SOURCES, IngestKey, client_key, ingest_key_table
from services.shared.auth import (
    KeyConfigError,
    KeyTable,
    OpenModeRefused,
    decide_open_mode,
    is_loopback_host,
    key_from_headers,
    load_keys_file,
    parse_keys_text,
)

pytestmark = pytest.mark.unit
log = logging.getLogger("test.auth")


def compact(fields, where):
    return {"key": fields[0], "role": fields[1] if len(fields) > 1 else None, "_where": where}


def test_env_text_is_a_json_list_or_compact_entries():
    assert [e["key"] for e in parse_keys_text('[{"key": "k-123456"}]', "PR_X", compact)] == ["k-123456"]
    assert [e["key"] for e in parse_keys_text('{"keys": [{"key": "k-123456"}]}', "PR_X", compact)] == ["k-123456"]
    entries = parse_keys_text("k-123456:admin, k-654321:dashboard,", "PR_X", compact)
    assert [(e["key"], e["role"]) for e in entries] == [("k-123456", "admin"), ("k-654321", "dashboard")]
    assert parse_keys_text("  ", "PR_X", compact) == []


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[{not json", "PR_X: not valid JSON"),
        ('[{"key": "short"}]', "PR_X entry 1: key must be a string of at least 8"),
        ('["k-123456"]', "PR_X entry 1: each key must be an object"),
        ('{"keys": 3}', "PR_X: expected a list"),
    ],
)
def test_malformed_key_text_names_the_variable_and_entry(text, problem):
    with pytest.raises(KeyConfigError, match=problem):
        parse_keys_text(text, "PR_X", compact)


def test_key_files_in_json_and_toml(tmp_path):
    as_json = tmp_path / "keys.json"
    as_json.write_text(json.dumps([{"key": "k-json-0001", "name": "a"}]))
    as_toml = tmp_path / "keys.toml"
    as_toml.write_text('[[keys]]\nkey = "k-toml-0001"\nsources = ["api"]\n')
    assert load_keys_file(as_json)[0]["key"] == "k-json-0001"
    assert load_keys_file(as_toml)[0]["sources"] == ["api"]
    with pytest.raises(KeyConfigError, match="cannot read"):
        load_keys_file(tmp_path / "missing.json")


def test_keys_are_looked_up_by_digest_and_never_twice():
    table = KeyTable([("k-123456", "ana"), ("k-654321", "bo")])
    assert table.resolve("k-123456") == "ana" and table.resolve("nope-nope") is None and table.resolve(None) is None
    assert "k-123456" not in repr(table._by_digest)
    with pytest.raises(KeyConfigError, match="'bo' is configured twice"):
        KeyTable([("k-123456", "ana"), ("k-123456", "bo")])


def test_the_key_comes_from_x_api_key_or_bearer_only():
    assert key_from_headers({"x-api-key": " k1 "}) == "k1"
    assert key_from_headers({"authorization": "Bearer k2"}) == "k2"
    assert key_from_headers({"authorization": "Basic abc"}) is None
    assert key_from_headers({}) is None


def test_ingest_entries_name_the_sources_a_key_may_post(tmp_path):
    table = ingest_key_table("k-default-1,k-crm-0001:salesforce|api", None)
    assert table.resolve("k-default-1") == IngestKey(name="key-1:api|csv", sources=DEFAULT_SOURCES)
    assert table.resolve("k-crm-0001").sources == {"salesforce", "api"}
    json_table = ingest_key_table('[{"key": "k-bridge-01", "name": "bridge", "sources": ["hubspot"]}]', None)
    assert json_table.resolve("k-bridge-01") == IngestKey(name="bridge", sources=frozenset({"hubspot"}))
    with pytest.raises(KeyConfigError, match="PR_INGEST_API_KEYS entry 1: sources must be"):
        ingest_key_table('[{"key": "k-bridge-01", "sources": ["Not A Source"]}]', None)
    with pytest.raises(KeyConfigError, match="expected key"):
        ingest_key_table("k-1234567:api:extra", None)


def test_clients_pick_a_configured_key_that_may_post_their_source(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[[keys]]\nkey = "k-crm-only"\nsources = ["salesforce"]\n[[keys]]\nkey = "k-loader-1"\n')
    assert client_key(None, keys, {"csv"}) == "k-loader-1"
    assert client_key("k-crm-only:salesforce", None, {"api"}) is None
    assert client_key(None, None, {"api"}) is None


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


def test_open_on_loopback_is_allowed_and_said_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        assert decide_open_mode(
            service="ingest",
            host="127.0.0.1",
            credentials_configured=False,
            keys_variable="PR_INGEST_API_KEYS",
            allow_open=False,
            log=log,
        )
    assert "runs OPEN" in caplog.text
    assert not decide_open_mode(
        service="ingest",
        host="0.0.0.0",
        credentials_configured=True,
        keys_variable="PR_INGEST_API_KEYS",
        allow_open=False,
        log=log,
    )


def test_open_on_another_address_is_refused_unless_allowed(caplog):
    with pytest.raises(OpenModeRefused, match=r"PR_INGEST_API_KEYS.*PR_ALLOW_OPEN=true"):
        decide_open_mode(
            service="ingest",
            host="0.0.0.0",
            credentials_configured=False,
            keys_variable="PR_INGEST_API_KEYS",
            allow_open=False,
            log=log,
        )
    with caplog.at_level(logging.WARNING):
        assert decide_open_mode(
            service="review",
            host="0.0.0.0",
            credentials_configured=False,
            keys_variable="PR_REVIEW_API_KEYS",
            allow_open=True,
            log=log,
        )
    assert "PR_ALLOW_OPEN=true" in caplog.text and "not a loopback address" in caplog.text
