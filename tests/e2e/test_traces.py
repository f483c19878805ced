"""End to end: with an OTLP endpoint set, one trace runs from the CRM's request to the alert's SSE and webhook deliveries.

The three services run as processes exporting OTLP/HTTP to a collector this test runs (it
decodes the protobuf requests with opentelemetry-proto).
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e.conftest import running_stack
from tests.e2e.test_alerts import canonical
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


class Collector(BaseHTTPRequestHandler):
    """OTLP/HTTP traces (POST /v1/traces) into ``server.spans``; webhook deliveries into ``server.webhooks``."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/v1/traces":
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
                service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        self.server.spans.append(
                            {
                                "service": service,
                                "name": span.name,
                                "trace": span.trace_id.hex(),
                                "id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                            }
                        )
            answer, kind = ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
        else:
            self.server.webhooks.append((dict(self.headers.items()), json.loads(body)))
            answer, kind = b"", "text/plain"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.spans, server.webhooks = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_one_trace_from_the_ingest_request_to_the_sse_and_webhook_deliveries(
    common_settings, tmp_path, collector, monkeypatch
):
    base = f"http://127.0.0.1:{collector.server_address[1]}"
    # The standard variable, as an operator would set it; a short export delay for the test.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    review_env = {"PR_REVIEW_WEBHOOK_ALLOW_NETS": "127.0.0.0/8", "PR_REVIEW_WEBHOOK_POLL_INTERVAL": "0.2"}
    trace_id, crm_span = secrets.token_hex(16), secrets.token_hex(8)
    with running_stack(common_settings, tmp_path, review_env=review_env) as urls, httpx.Client(timeout=30) as client:
        ingest, review = urls["ingest"], urls["review"]
        assert client.post(f"{review}/v1/webhooks", json={"url": f"{base}/hook"}).status_code == 201
        created = canonical(
            "api:traced",
            "deal.created",
            0,
            name="Traced",
            account="Acme",
            owner_id="u1",
            team="East",
            manager_id="m1",
            stage="Negotiation/Review",
            amount=80_000,
        )
        discount = canonical("api:traced", "deal.discount_requested", 5, discount_pct=20)
        # The deal enters late with no economic buyer known: its qualification_gap alert comes
        # first, on a trace of its own; the stream follows the discount kind.
        only = {"cursor": "0", "kind": "late_stage_discount"}
        with client.stream("GET", f"{review}/v1/alerts/stream", params=only) as stream:
            assert client.post(f"{ingest}/v1/events", json=created).status_code == 202
            # The CRM's request is itself traced: ingest continues its trace.
            answer = client.post(
                f"{ingest}/v1/events", json=discount, headers={"traceparent": f"00-{trace_id}-{crm_span}-01"}
            )
            assert answer.status_code == 202
            data = next(line for line in stream.iter_lines() if line.startswith("data:"))
        alert = json.loads(data.removeprefix("data:").strip())
        assert alert["event_id"] == discount["event_id"] and "_traceparent" not in alert
        headers, body = wait_until(
            lambda: collector.webhooks and collector.webhooks[0], timeout=30, what="the webhook delivery"
        )
        assert headers["traceparent"].split("-")[1] == trace_id
        assert "_traceparent" not in json.dumps(body)
        assert "_traceparent" not in client.get(f"{review}/v1/alerts").text

        wanted = {"deliver alert sse", "deliver alert webhook"}

        def traced():
            spans = [s for s in collector.spans if s["trace"] == trace_id]
            return spans if wanted <= {s["name"] for s in spans} else None

        spans = wait_until(traced, timeout=30, what="the spans of the discount's trace")

        # A manager's action goes through Kafka too: its fold joins the trace of review's request.
        action_trace = secrets.token_hex(16)
        reviewed = client.post(
            f"{review}/v1/deals/api:traced/reviews",
            json={"by": "ana"},
            headers={"traceparent": f"00-{action_trace}-{secrets.token_hex(8)}-01"},
        )
        assert reviewed.status_code == 202, reviewed.text

        def action_traced():
            found = {s["service"]: s for s in collector.spans if s["trace"] == action_trace}
            return found if {"review", "scoring"} <= found.keys() else None

        action_spans = wait_until(action_traced, timeout=30, what="the review action's fold in its trace")
        assert action_spans["scoring"]["name"] == "fold deal-events"
    by_name = {s["name"]: s for s in spans}
    request = by_name["POST /v1/events"]
    send = by_name[f"send {common_settings.deal_events_topic}"]
    fold = by_name["fold deal-events"]
    receive = by_name[f"receive {common_settings.deal_alerts_topic}"]
    # One chain of parents: CRM -> ingest request -> Kafka send -> fold -> alert consumer -> deliveries.
    assert (request["service"], request["parent"]) == ("ingest", crm_span)
    assert (send["service"], send["parent"]) == ("ingest", request["id"])
    assert (fold["service"], fold["parent"]) == ("scoring", send["id"])
    assert (receive["service"], receive["parent"]) == ("review", fold["id"])
    for name in wanted:
        assert (by_name[name]["service"], by_name[name]["parent"]) == ("review", receive["id"])
    assert headers["traceparent"].split("-")[2] == by_name["deliver alert webhook"]["id"]
    # The first event had no trace context: its own trace, apart from this one.
    assert sum(1 for s in collector.spans if s["name"] == "fold deal-events") >= 2
    assert [s for s in spans if s["name"] == "fold deal-events"] == [fold]
