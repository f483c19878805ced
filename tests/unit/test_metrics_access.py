"""/metrics follows the service's credentials, and HTTP latency labels stay bounded whatever the paths."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared.metrics import ConsumerLag, metrics_allowed, metrics_open
from services.shared.settings import CommonSettings
from tests.unit.test_ingest_auth import LOADER, FakeProducer, event

pytestmark = pytest.mark.unit
TOKEN = "metrics-token-0123"


def ingest(keys: str | None, token: str | None = None, host: str = "127.0.0.1", allow_open: bool = False) -> TestClient:
    common = CommonSettings(allow_open=allow_open, metrics_token=SecretStr(token) if token else None)
    return TestClient(create_app(IngestSettings(host=host, api_keys=keys, common=common), FakeProducer()))


def test_metrics_are_open_only_while_the_service_itself_runs_open():
    assert ingest(keys=None).get("/metrics").status_code == 200
    assert ingest(keys=None, host="0.0.0.0", allow_open=True).get("/metrics").status_code == 200
    locked = ingest(keys=LOADER)
    for headers in ({}, {"X-API-Key": LOADER}, {"Authorization": f"Bearer {LOADER}"}):
        answer = locked.get("/metrics", headers=headers)
        assert answer.status_code == 401 and "PR_METRICS_TOKEN" in answer.json()["detail"], headers
    assert locked.get("/v1/events").status_code == 405  # the rest of the service is unchanged


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-000"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer \u00e9t\u00e9".encode("latin-1")},
        {"X-API-Key": TOKEN[:-1]},
    ],
)
def test_with_a_token_only_that_token_reads_metrics_even_in_open_mode(headers):
    for app in (ingest(keys=LOADER, token=TOKEN), ingest(keys=None, token=TOKEN)):
        assert app.get("/metrics", headers=headers).status_code == 401
        assert app.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert app.get("/metrics", headers={"X-API-Key": TOKEN}).status_code == 200


def test_metrics_open_is_the_open_mode_rule():
    assert metrics_open("127.0.0.1", credentials_configured=False, allow_open=False)
    assert metrics_open("::1", credentials_configured=False, allow_open=False)
    assert not metrics_open("0.0.0.0", credentials_configured=False, allow_open=False)
    assert metrics_open("0.0.0.0", credentials_configured=False, allow_open=True)
    assert not metrics_open("127.0.0.1", credentials_configured=True, allow_open=True)
    assert not metrics_allowed({}, None, open_=False)
    assert metrics_allowed({}, None, open_=True)


def test_route_labels_are_templates_and_unknown_paths_share_one_label():
    app = ingest(keys=None)
    assert app.post("/v1/events", json=event()).status_code == 202
    for n in range(30):  # a scanner's paths
        app.get(f"/wp-admin/{n}.php")
    app.post("/v1/sources/salesforce/../../etc", json={})
    app.request("BREW", "/v1/events")
    text = app.get("/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("pr_http_request_duration_seconds_count")]
    routes = {line.split('route="')[1].split('"')[0] for line in lines}
    assert routes <= {"/v1/events", "unmatched", "/metrics"}, routes
    assert 'route="/v1/events",service="ingest",status="202"' in text
    assert 'method="other"' in text and "BREW" not in text
    assert "wp-admin" not in text


def test_consumer_lag_reports_only_the_partitions_read_gives_and_survives_a_failing_read():
    registry = CollectorRegistry()
    lags = {("deal-events", 0): 5, ("deal-events", 3): -1}
    registry.register(ConsumerLag("pr-scoring", lambda: ((t, p, n) for (t, p), n in lags.items())))
    text = generate_latest(registry).decode()
    assert 'pr_consumer_lag{group="pr-scoring",partition="0",topic="deal-events"} 5.0' in text
    assert 'partition="3",topic="deal-events"} 0.0' in text  # never negative
    lags.pop(("deal-events", 0))  # moved to another worker: gone from here
    assert 'partition="0"' not in generate_latest(registry).decode()

    def broken():
        raise RuntimeError("consumer between two states")

    failing = CollectorRegistry()
    failing.register(ConsumerLag("g", broken))
    assert "pr_consumer_lag" in generate_latest(failing).decode()
