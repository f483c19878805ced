"""Tracing: off by default and then absent from the records; on, each hop continues the trace it was handed.

Spans are read with the SDK's InMemorySpanExporter. The whole chain across the three
processes is tests/e2e/test_traces.py.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.review.alerts import feed_item
from services.scoring.observe import fold_spans
from services.shared import tracing
from services.shared.events import encode_event
from services.shared.settings import CommonSettings
from tests.helpers import event
from tests.unit.test_ingest_auth import FakeProducer
from tests.unit.test_ingest_auth import event as api_event

pytestmark = pytest.mark.unit
TRACE_ID, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


class HeaderProducer(FakeProducer):
    """Keeps the headers each send was given (None when none were)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list = []

    async def send(self, topic, records, **kwargs):
        self.headers.append(kwargs.get("headers"))
        await super().send(topic, records)


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    assert tracing.configure("test", None, exporter=exporter)
    yield exporter
    tracing.shutdown()


def test_tracing_is_off_by_default_and_then_adds_nothing():
    assert not tracing.enabled()
    assert not tracing.configure("ingest", None)
    assert CommonSettings().otlp_endpoint is None
    producer = HeaderProducer()
    app = create_app(IngestSettings(), producer)
    assert tracing.TraceRequests not in [m.cls for m in app.user_middleware]
    assert TestClient(app).post("/v1/events", json=api_event(), headers={"traceparent": TRACEPARENT}).status_code == 202
    assert producer.headers == [None]  # no trace headers on the record
    item = feed_item({"alert_id": "a", tracing.TRACE_FIELD: TRACEPARENT}, "1-0", None)
    assert tracing.TRACE_FIELD not in item and item.trace == TRACEPARENT
    assert tracing.start_delivery_span("deliver", TRACEPARENT) is None


def test_the_standard_otel_variable_sets_the_endpoint(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert CommonSettings().otlp_endpoint == "http://collector:4318"
    monkeypatch.setenv("PR_OTLP_ENDPOINT", "http://other:4318/")
    assert CommonSettings().otlp_endpoint == "http://other:4318/"
    assert tracing.traces_url("http://other:4318/") == "http://other:4318/v1/traces"
    assert tracing.traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "00-" + "0" * 32 + f"-{PARENT}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"ff-{TRACE_ID}-{PARENT}-01",
        f"00-{TRACE_ID.upper()}-{PARENT}-01",
        TRACEPARENT + "x" * 10_000,
        "\u00e9" * 55,
        "",
        f"00-{TRACE_ID}-{PARENT}",
    ],
)
def test_malformed_trace_context_starts_a_new_trace_and_never_fails(spans, value):
    for headers in (
        [("traceparent", value.encode("utf-8"))],
        {"traceparent": value},
        [("TRACEPARENT", value)],
        [(None, b"x"), ("traceparent", 7)],
        None,
    ):
        context = tracing.context_from_headers(headers)
        with tracing.tracer().start_as_current_span("s", context=context) as span:
            assert format_trace_id(span.get_span_context().trace_id) != TRACE_ID


def test_ingest_continues_the_callers_trace_into_the_kafka_headers(spans):
    producer = HeaderProducer()
    app = TestClient(create_app(IngestSettings(), producer))
    assert (
        app.post(
            "/v1/events", json=[api_event(), api_event(event_id="e2")], headers={"traceparent": TRACEPARENT}
        ).status_code
        == 202
    )
    finished = {s.name: s for s in spans.get_finished_spans()}
    request, send = finished["POST /v1/events"], finished["send deal-events"]
    assert request.kind is SpanKind.SERVER and format_span_id(request.parent.span_id) == PARENT
    assert send.kind is SpanKind.PRODUCER and send.parent.span_id == request.context.span_id
    assert format_trace_id(send.context.trace_id) == TRACE_ID
    # Every record of the request carries the send span's context.
    [headers] = producer.headers
    sent = dict(headers)["traceparent"].decode()
    assert sent == f"00-{TRACE_ID}-{format_span_id(send.context.span_id)}-01"
    # A route template names the span, never the raw path.
    app.get("/v1/unknown/123")
    assert "GET unmatched" in {s.name for s in spans.get_finished_spans()}


def fake_event(value: bytes, headers, offset: int):
    message = SimpleNamespace(headers=headers, topic="deal-events", partition=0, offset=offset, timestamp=0)
    return SimpleNamespace(value=value, message=message)


def test_a_fold_span_per_event_continues_its_record_and_its_alert_carries_the_fold(spans):
    traced = event("api:d1", "deal.discount_requested", 0, event_id="ev-traced", discount_pct=10)
    plain = event("api:d2", "deal.created", 0, event_id="ev-plain")
    events = [
        fake_event(encode_event(traced), [("traceparent", TRACEPARENT.encode())], 1),
        fake_event(encode_event(plain), None, 2),
        fake_event(b"not json", (), 3),
    ]
    changelog = SimpleNamespace(alert_headers=None)
    with fold_spans(events, changelog):
        headers = changelog.alert_headers(SimpleNamespace(event_id="ev-traced"))
        assert changelog.alert_headers(SimpleNamespace(event_id="ev-unknown")) is None
    assert changelog.alert_headers is None  # only while the batch folds
    folds = spans.get_finished_spans()
    assert [s.name for s in folds] == ["fold deal-events"] * 3
    first = folds[0]
    assert format_span_id(first.parent.span_id) == PARENT and format_trace_id(first.context.trace_id) == TRACE_ID
    assert dict(headers)["traceparent"].decode() == f"00-{TRACE_ID}-{format_span_id(first.context.span_id)}-01"
    assert folds[1].parent is None and folds[1].context.trace_id != first.context.trace_id


def test_a_failed_fold_marks_its_spans_and_ends_them(spans):
    changelog = SimpleNamespace(alert_headers=None)
    with pytest.raises(RuntimeError), fold_spans([fake_event(b"{}", None, 1)], changelog):
        raise RuntimeError("Redis away")
    [span] = spans.get_finished_spans()
    assert not span.status.is_ok and span.events[0].name == "exception"


def test_a_delivery_span_is_a_child_of_the_alerts_trace(spans):
    item = feed_item(json.loads(json.dumps({"alert_id": "a1", tracing.TRACE_FIELD: TRACEPARENT})), "1-0", None)
    span = tracing.start_delivery_span("deliver alert sse", item.trace, {"alert_id": item["alert_id"]})
    span.end()
    assert tracing.start_delivery_span("deliver alert sse", None) is None
    assert tracing.start_delivery_span("deliver alert sse", 12) is None
    [done] = spans.get_finished_spans()
    assert format_span_id(done.parent.span_id) == PARENT and done.attributes["alert_id"] == "a1"
