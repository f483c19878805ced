"""Optional OpenTelemetry tracing: off, and free, unless an OTLP endpoint is set.

One trace runs from the ingest request to the alert's delivery: W3C trace context
(``traceparent``, ``tracestate``) travels in the Kafka record headers of deal-events and
deal-alerts, in the alert kept on review's feed (:data:`TRACE_FIELD`, never shown to clients),
and in the ``traceparent`` header of a webhook delivery.

Off (no ``PR_OTLP_ENDPOINT`` nor ``OTEL_EXPORTER_OTLP_ENDPOINT``), nothing here is called per
event: callers test :func:`enabled` once per request or batch. The SDK and the exporter are
the ``otel`` extra (``pip install 'pipeline-review[otel]'``); only the API, which FastAPI
already requires, is imported when tracing is off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .metrics import route_template

# Only W3C trace context, whatever OTEL_PROPAGATORS says: it is what the other side reads.
PROPAGATOR = TraceContextTextMapPropagator()
HEADERS = ("traceparent", "tracestate")
# Key of the alert's traceparent inside the alert JSON on review's feed (taken out before delivery).
TRACE_FIELD = "_traceparent"
MAX_HEADER = 512  # longer values are not trace context (traceparent is 55 characters)

_tracer: trace.Tracer | None = None
_provider: Any = None


class TracingUnavailable(RuntimeError):
    """An OTLP endpoint is set but the SDK is not installed."""


def enabled() -> bool:
    return _tracer is not None


def tracer() -> trace.Tracer:
    assert _tracer is not None, "tracing is off: test enabled() first"
    return _tracer


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT means it)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def configure(service: str, endpoint: str | None, exporter: Any = None) -> bool:
    """Turn tracing on for this process when ``endpoint`` (or, in tests, an ``exporter``) is given.

    Without either, leaves things as they are (off by default) and returns False.
    """
    global _tracer, _provider
    if exporter is None and not endpoint:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            "PR_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) is set but the OpenTelemetry "
            "SDK is not installed: pip install 'pipeline-review[otel]'"
        ) from exc
    processor: BatchSpanProcessor | SimpleSpanProcessor
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        assert endpoint  # returned above without an exporter or an endpoint
        # Batched and sent from a background thread: a slow collector never holds up an event.
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint)))
    else:
        processor = SimpleSpanProcessor(exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(processor)
    # A provider of our own, not the global one: several services configured in one test
    # process, and a library's global provider, stay apart.
    _provider, _tracer = provider, provider.get_tracer("pipeline-review")
    return True


def shutdown() -> None:
    """Flush what is buffered and turn tracing off."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


# ------------------------------------------------------------------ context on the wire


def carrier(context: Context | None = None) -> dict[str, str]:
    """The W3C headers of ``context`` (default: the current span)."""
    out: dict[str, str] = {}
    PROPAGATOR.inject(out, context=context)
    return out


def kafka_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in carrier(context).items()]


def traceparent(context: Context | None = None) -> str | None:
    return carrier(context).get("traceparent")


def context_from_headers(headers: Iterable[tuple[str, bytes | str]] | Mapping[str, str] | None) -> Context:
    """The remote parent named by Kafka or HTTP headers; an empty context for missing or malformed ones."""
    found: dict[str, str] = {}
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in items:
        name = name.lower() if isinstance(name, str) else ""
        if name in HEADERS and isinstance(value, (bytes, str)) and len(value) <= MAX_HEADER:
            found[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    return PROPAGATOR.extract(found)


def context_from_traceparent(value: Any) -> Context:
    return context_from_headers({"traceparent": value} if isinstance(value, str) else None)


def link_context(span: trace.Span) -> Context:
    """A context whose parent is ``span`` (to inject it after the span has left the current context)."""
    return trace.set_span_in_context(span)


# ------------------------------------------------------------------ HTTP server spans


class TraceRequests:
    """ASGI middleware: a SERVER span per HTTP request, child of the caller's ``traceparent``.

    Added only when tracing is on. The span is named after the route template once routing
    ran (``POST /v1/events``), so span names stay as few as the routes.
    """

    def __init__(self, app, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not enabled():
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v) for k, v in scope.get("headers", [])]
        method = scope.get("method", "")
        status: list[int] = []

        async def send_status(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        with tracer().start_as_current_span(
            method or "HTTP",
            kind=SpanKind.SERVER,
            context=context_from_headers(headers),
            attributes={"http.request.method": method, "service.component": self.service},
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status[0])
                    if status[0] >= 500:
                        span.set_status(Status(StatusCode.ERROR))


# ------------------------------------------------------------------ alert deliveries


def start_delivery_span(name: str, parent: Any, attributes: Mapping[str, Any] | None = None) -> trace.Span | None:
    """A span, child of ``parent`` (the alert's traceparent), for one delivery; None when off or there is none.

    Started rather than made current: an SSE stream delivers from inside an async generator,
    where a current span would leak into the next item.
    """
    if _tracer is None or not isinstance(parent, str):
        return None
    return _tracer.start_span(
        name, context=context_from_traceparent(parent), kind=SpanKind.PRODUCER, attributes=dict(attributes or {})
    )
