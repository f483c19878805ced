"""End to end: real activity through the three services shows in every metric the dashboard and rules read."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import running_stack
from tests.e2e.test_alerts import canonical
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def samples(base: str, headers: dict[str, str] | None = None) -> list:
    """Every sample of a service's /metrics: (name, labels, value)."""
    answer = httpx.get(f"{base}/metrics", headers=headers or {}, follow_redirects=True, timeout=10)
    assert answer.status_code == 200, answer.text
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(answer.text) for s in f.samples]


def value(found: list, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(v for n, got, v in found if n == name and labels.items() <= got.items())


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: /ok answers 204, /broken 500."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204 if self.path == "/ok" else 500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_activity_shows_in_every_metric_the_dashboard_reads(common_settings, tmp_path, receiver):
    review_env = {
        "PR_REVIEW_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
        "PR_REVIEW_WEBHOOK_MAX_ATTEMPTS": "2",
        "PR_REVIEW_WEBHOOK_BACKOFF_BASE": "0.2",
        "PR_REVIEW_WEBHOOK_POLL_INTERVAL": "0.2",
    }
    with running_stack(common_settings, tmp_path, review_env=review_env) as urls, httpx.Client(timeout=30) as client:
        ingest, review, scoring = urls["ingest"], urls["review"], urls["scoring"]
        for path in ("/ok", "/broken"):
            assert client.post(f"{review}/v1/webhooks", json={"url": receiver + path}).status_code == 201
        created = canonical(
            "api:metrics-deal",
            "deal.created",
            0,
            name="Metrics deal",
            account="Acme",
            owner_id="u1",
            team="East",
            manager_id="m1",
            stage="Negotiation/Review",
            amount=100_000,
        )
        discount = canonical("api:metrics-deal", "deal.discount_requested", 5, discount_pct=10)
        assert client.post(f"{ingest}/v1/events", json=[created, discount]).status_code == 202
        unmapped = (FIXTURES / "hubspot" / "batch_unmapped.json").read_bytes()
        dead = client.post(
            f"{ingest}/v1/sources/hubspot", content=unmapped, headers={"content-type": "application/json"}
        ).json()["dead_lettered"]
        assert dead >= 1
        wait_until(lambda: client.get(f"{review}/v1/alerts").json()["items"], timeout=30, what="the alert on the feed")
        assert client.get(f"{review}/v1/deals/api:metrics-deal").status_code == 200
        assert client.get(f"{review}/no/such/route/123").status_code == 404

        # Scoring: events folded, the alert by kind, freshness per event, lag of its own partitions.
        found = wait_until(
            lambda: (s := samples(scoring)) and value(s, "pr_freshness_seconds_count") >= 2 and s,
            timeout=15,
            what="scoring's metrics",
        )
        assert value(found, "pr_scoring_events_folded_total") >= 2
        assert value(found, "pr_alerts_raised_total", kind="late_stage_discount") == 1
        assert value(found, "pr_freshness_seconds_bucket", le="+Inf") == value(found, "pr_freshness_seconds_count")
        assert 0 < value(found, "pr_freshness_seconds_sum") < 30
        lag = [labels for name, labels, _ in found if name == "pr_consumer_lag"]
        assert {(lbl["topic"], lbl["partition"]) for lbl in lag} == {
            (common_settings.deal_events_topic, str(p)) for p in range(common_settings.deal_event_partitions)
        }
        assert wait_until(
            lambda: value(samples(scoring), "pr_consumer_lag") == 0 or None, timeout=15, what="the worker caught up"
        )

        # Review: webhook outcomes, the alert consumer's lag, latency per route template.
        def outcomes():
            s = samples(review)
            got = {o: value(s, "pr_webhook_deliveries_total", outcome=o) for o in ("delivered", "failed", "dead")}
            return got if got["delivered"] >= 1 and got["dead"] >= 1 else None

        assert wait_until(outcomes, timeout=30, what="webhook outcomes") == {"delivered": 1, "failed": 1, "dead": 1}
        found = samples(review)
        lag = {labels["topic"] for name, labels, _ in found if name == "pr_consumer_lag"}
        assert lag == {common_settings.deal_alerts_topic}
        routes = {
            (lbl["route"], lbl["method"], lbl["status"])
            for n, lbl, _ in found
            if n == "pr_http_request_duration_seconds_count" and lbl["service"] == "review"
        }
        assert {
            ("/v1/webhooks", "POST", "201"),
            ("/v1/alerts", "GET", "200"),
            ("/v1/deals/{deal_id}", "GET", "200"),
            ("unmatched", "GET", "404"),
        } <= routes
        assert not [r for r in routes if "metrics-deal" in r[0] or "such" in r[0]], "raw paths as labels"

        # Ingest: accepted and dead-lettered records, latency per route.
        found = samples(ingest)
        assert value(found, "pr_ingest_events_accepted_total", source="api") == 2
        assert value(found, "pr_ingest_dead_lettered_total", source="hubspot") == dead
        assert (
            value(
                found,
                "pr_http_request_duration_seconds_count",
                service="ingest",
                route="/v1/events",
                method="POST",
                status="202",
            )
            == 1
        )
        assert value(found, "pr_http_request_duration_seconds_count", route="/v1/sources/hubspot") == 1
