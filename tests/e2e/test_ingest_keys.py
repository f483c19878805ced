"""Ingest with keys and CRM secrets configured, through the running services; and the open-mode start check."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from testkit.processes import BIN, Service, free_port
from tests.conftest import settings_env
from tests.e2e.conftest import running_stack
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
LOADER = "e2e-loader-key-01"  # lists no sources: api and csv
BRIDGE = "e2e-bridge-key-01"
SF_TOKEN = "e2e-salesforce-token-01"
KEYS_ENV = {
    "PR_INGEST_API_KEYS": f'[{{"key": "{LOADER}", "name": "loader"}}, '
    f'{{"key": "{BRIDGE}", "name": "bridge", "sources": ["salesforce"]}}]',
    "PR_INGEST_SALESFORCE_TOKEN": SF_TOKEN,
}


@pytest.fixture(scope="module")
def locked(tmp_path_factory, kafka_bootstrap, redis_url):
    """One stack for the module (starting three services is the slow part), ingest locked."""
    import uuid

    from services.admin.topics import ensure_topics
    from services.shared.settings import CommonSettings

    tag = uuid.uuid4().hex[:8]
    settings = CommonSettings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, topic_prefix=f"t{tag}-", redis_prefix=f"t{tag}"
    )
    ensure_topics(settings)
    with running_stack(settings, tmp_path_factory.mktemp("locked"), ingest_env=KEYS_ENV) as urls:
        yield urls | {"settings": settings}


def api_event(deal: str, **overrides) -> dict:
    return {
        "event_id": f"{deal}-created",
        "source": "api",
        "deal_id": f"api:{deal}",
        "type": "deal.created",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "changes": {"name": f"Deal {deal}", "stage": "Prospecting", "amount": 1000, "team": "East"},
    } | overrides


def card(urls, deal_id: str):
    answer = httpx.get(f"{urls['review']}/v1/deals/{deal_id}")
    return answer.json() if answer.status_code == 200 else None


def test_events_need_a_key_that_may_post_their_source(locked):
    url = f"{locked['ingest']}/v1/events"
    assert httpx.post(url, json=api_event("k1")).status_code == 401
    assert httpx.post(url, json=api_event("k1"), headers={"X-API-Key": "not-a-key-at-all"}).status_code == 401
    forged = httpx.post(
        url, json=api_event("k1", source="salesforce", deal_id="salesforce:006X"), headers={"X-API-Key": LOADER}
    )
    assert forged.status_code == 403 and "event.source" in forged.json()["detail"]
    onto_crm = httpx.post(url, json=api_event("k1", deal_id="salesforce:006X"), headers={"X-API-Key": LOADER})
    assert onto_crm.status_code == 422 and onto_crm.json()["detail"].startswith("event.deal_id:")
    accepted = httpx.post(url, json=api_event("k1"), headers={"X-API-Key": LOADER})
    assert accepted.status_code == 202, accepted.text
    assert wait_until(lambda: card(locked, "api:k1"), timeout=20, what="api:k1 on review")["name"] == "Deal k1"
    bridge = httpx.post(
        url,
        json=api_event("k2", source="salesforce", deal_id="salesforce:006K2"),
        headers={"Authorization": f"Bearer {BRIDGE}"},
    )
    assert bridge.status_code == 202, bridge.text


def test_salesforce_needs_its_token_and_an_unconfigured_crm_answers_503(locked):
    body = (FIXTURES / "salesforce" / "opportunity_create.json").read_bytes()
    route = f"{locked['ingest']}/v1/sources/salesforce"
    json_type = {"content-type": "application/json"}
    assert httpx.post(route, content=body, headers=json_type).status_code == 401
    assert httpx.post(route, content=body, headers=json_type | {"Authorization": f"Bearer {LOADER}"}).status_code == 401
    good = httpx.post(route, content=body, headers=json_type | {"Authorization": f"Bearer {SF_TOKEN}"})
    assert good.status_code == 202 and good.json()["accepted"] == 1
    assert wait_until(lambda: card(locked, "salesforce:006SM0000001Tb3YAE"), timeout=20, what="salesforce deal")
    hubspot = httpx.post(f"{locked['ingest']}/v1/sources/hubspot", content=b"[]", headers=json_type)
    assert hubspot.status_code == 503 and "PR_INGEST_HUBSPOT_CLIENT_SECRET" in hubspot.json()["detail"]


def test_the_demo_loader_and_pr_import_use_a_configured_key(locked):
    env = {**os.environ, **settings_env(locked["settings"]), **KEYS_ENV}
    env.pop("PR_API_KEY", None)
    demo = subprocess.run(
        [str(BIN / "pr-demo-alerts"), "--ingest-url", locked["ingest"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "posted 14 demo events" in demo.stdout
    imported = subprocess.run(
        [
            str(BIN / "pr-import"),
            str(ROOT / "data/crm-sales-opportunities/sales_pipeline.csv"),
            "--limit",
            "20",
            "--ingest-url",
            locked["ingest"],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert wait_until(lambda: card(locked, "api:demo-1"), timeout=20, what="demo deal on review")


# ------------------------------------------------------------------ the start check


@pytest.mark.parametrize("service, keys_variable", [("ingest", "PR_INGEST_API_KEYS"), ("review", "PR_REVIEW_API_KEYS")])
def test_no_keys_on_a_public_address_refuses_to_start(common_settings, service, keys_variable):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEYS", "_API_KEYS_FILE", "ALLOW_OPEN"))}
    env |= settings_env(common_settings) | {
        f"PR_{service.upper()}_HOST": "0.0.0.0",
        f"PR_{service.upper()}_PORT": str(free_port()),
    }
    done = subprocess.run([str(BIN / f"pr-{service}")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert keys_variable in done.stderr and "PR_ALLOW_OPEN=true" in done.stderr and "0.0.0.0" in done.stderr


@pytest.mark.parametrize(
    "keys_file, expected",
    [
        ("[]", "PR_ALLOW_OPEN=true"),  # no entries is no keys, not a locked review that lets everyone in
        ('[{"key": "k-0123456789", "role": "boss"}]', "role must be one of"),
    ],
)
def test_review_with_an_empty_or_malformed_key_file_refuses_to_start(common_settings, tmp_path, keys_file, expected):
    keys = tmp_path / "keys.json"
    keys.write_text(keys_file)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEYS", "_API_KEYS_FILE", "ALLOW_OPEN"))}
    env |= settings_env(common_settings) | {
        "PR_REVIEW_HOST": "0.0.0.0",
        "PR_REVIEW_PORT": str(free_port()),
        "PR_REVIEW_API_KEYS_FILE": str(keys),
    }
    done = subprocess.run([str(BIN / "pr-review")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and expected in done.stderr, done.stderr


@pytest.mark.parametrize("service", ["ingest", "review"])
def test_allow_open_starts_on_a_public_address_and_warns(common_settings, tmp_path, service):
    port = free_port()
    env = settings_env(common_settings) | {
        f"PR_{service.upper()}_HOST": "0.0.0.0",
        f"PR_{service.upper()}_PORT": str(port),
        "PR_ALLOW_OPEN": "true",
    }
    running = Service(service, env, f"http://127.0.0.1:{port}/healthz", tmp_path).start()
    try:
        assert "runs OPEN on 0.0.0.0" in running.log_path.read_text()
    finally:
        running.stop()
