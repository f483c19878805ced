"""The ingest HTTP service: the composition root and the canonical-event route."""

from __future__ import annotations

import collections
import datetime as dt
import logging
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.shared import tracing
from services.shared.asyncapi import asyncapi_document
from services.shared.auth import KeyTable, decide_open_mode, key_from_headers
from services.shared.events import DealEvent, encode_event
from services.shared.kafka_config import kafka_client_options
from services.shared.log_redaction import install_log_redaction
from services.shared.metrics import HttpLatency, guarded_metrics_app
from services.shared.stages import StageMap

from .auth import KEYS_VARIABLE, EventRefused, IngestKey, check_event, ingest_key_table
from .producer import EventProducer, KafkaUnavailable
from .rate_limit import RateLimited, RequestRateLimiter
from .settings import IngestSettings
from .source_routes import add_source_routes, dead_letter_record
from .sources.base import DeadLetter, SourceAdapter
from .sources.registry import builtin_adapters, load_plugins, make_plugin_adapters

log = logging.getLogger(__name__)

_event_adapter = TypeAdapter(DealEvent)


class BadRequest(Exception):
    """Input that is wrong in a way the client can fix; the message names the field."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]


def field_path(prefix: str, loc: tuple) -> str:
    """Render a pydantic error location as ``events[2].changes.amount``."""
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validation_errors(prefix: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": field_path(prefix, tuple(err["loc"])), "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False)
    ]


async def read_json(request: Request, max_bytes: int, raw: bool = False) -> Any:
    """Read a size-limited JSON body (or its bytes when ``raw``), or raise BadRequest."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > max_bytes):
        raise BadRequest(413, f"body: larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise BadRequest(413, f"body: larger than {max_bytes} bytes")
    if not body:
        raise BadRequest(400, "body: empty")
    if raw:
        return bytes(body)
    try:
        return orjson.loads(body)  # several times faster than json on 500-event batches
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, f"body: not valid JSON ({exc})") from None


def parse_events(payload: Any, max_batch: int) -> list[DealEvent]:
    """One event or a batch; all-or-nothing: any invalid item rejects the whole batch."""
    if isinstance(payload, dict):
        items, prefix = [payload], "event"
    elif isinstance(payload, list):
        items, prefix = payload, "events"
        if not items:
            raise BadRequest(422, "events: the batch is empty")
        if len(items) > max_batch:
            raise BadRequest(413, f"events: {len(items)} events in one batch; at most {max_batch}")
    else:
        raise BadRequest(422, "body: expected a JSON object (one event) or an array of events")
    events: list[DealEvent] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"events[{index}]" if prefix == "events" else "event"
        try:
            events.append(_event_adapter.validate_python(item))
        except ValidationError as exc:
            errors.extend(validation_errors(where, exc))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BadRequest(422, f"{first['field']}: {first['message']}{more}", errors)
    return events


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "pr_ingest_events_accepted_total", "Events acknowledged by Kafka", ["source"], registry=self.registry
        )
        self.rejected = Counter(
            "pr_ingest_requests_rejected_total", "Requests rejected", ["status"], registry=self.registry
        )
        self.dead_lettered = Counter(
            "pr_ingest_dead_lettered_total", "Items kept on the dead-letter topic", ["source"], registry=self.registry
        )
        self.kafka_latency = Histogram(
            "pr_ingest_kafka_ack_seconds", "Time until Kafka acknowledged a request", registry=self.registry
        )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_clock_skew(events: list[DealEvent], latest: dt.datetime, batch: bool) -> None:
    """422 naming the field when an event is dated after ``latest`` (now + PR_INGEST_MAX_CLOCK_SKEW)."""
    for index, event in enumerate(events):
        if event.occurred_at > latest:
            where = f"events[{index}]" if batch else "event"
            raise BadRequest(
                422,
                f"{where}.occurred_at: {event.occurred_at.isoformat()} is later than now plus "
                f"the allowed clock skew ({latest.isoformat()}, PR_INGEST_MAX_CLOCK_SKEW)",
            )


def ingest_keys(settings: IngestSettings) -> KeyTable[IngestKey]:
    """The ingest key table from PR_INGEST_API_KEYS and PR_INGEST_API_KEYS_FILE."""
    text = settings.api_keys.get_secret_value() if settings.api_keys else None
    return ingest_key_table(text, settings.api_keys_file)


def source_adapters(settings: IngestSettings, stage_map: StageMap, open_mode: bool = False) -> dict[str, SourceAdapter]:
    """The built-in adapters configured from settings, plus every installed plug-in."""
    secret = settings.hubspot_client_secret
    password = settings.pipedrive_password
    token = settings.salesforce_token
    adapters = builtin_adapters(
        stage_map,
        salesforce={"token": token.get_secret_value() if token else None},
        hubspot={
            "client_secret": secret.get_secret_value() if secret else None,
            "discount_property": settings.hubspot_discount_property,
            "max_age": settings.hubspot_max_signature_age,
        },
        pipedrive={"user": settings.pipedrive_user, "password": password.get_secret_value() if password else None},
    )
    adapters.update(make_plugin_adapters(load_plugins(), stage_map, open_mode=open_mode))
    return adapters


def create_app(settings: IngestSettings | None = None, producer: EventProducer | None = None, clock=utc_now) -> FastAPI:
    """Wire settings, keys, the Kafka producer, the source adapters and the routes.

    Raises OpenModeRefused when no key is configured and ingest is bound to a
    non-loopback address without PR_ALLOW_OPEN, and KeyConfigError on malformed keys.
    """
    settings = settings or IngestSettings()
    keys = ingest_keys(settings)
    open_mode = decide_open_mode(
        service="ingest",
        host=settings.host,
        credentials_configured=not keys.empty,
        keys_variable=KEYS_VARIABLE,
        allow_open=settings.common.allow_open,
        log=log,
    )
    limiter = RequestRateLimiter(settings.rate_limit, settings.rate_limit_storage)
    max_clock_skew = dt.timedelta(seconds=settings.max_clock_skew)
    stage_map = StageMap.load(settings.common.stage_map_file)
    adapters = source_adapters(settings, stage_map, open_mode)
    crm_sources = frozenset(adapters)
    producer = producer or EventProducer(
        settings.common.kafka_bootstrap,
        timeout=settings.kafka_timeout,
        fast_fail=settings.kafka_fast_fail,
        max_pending=settings.kafka_max_pending,
        max_pending_bytes=settings.kafka_max_pending_bytes,
        client_options=kafka_client_options(settings.common),
    )
    metrics = Metrics()

    # Keys and tokens sent in a query string by mistake must not reach the access log.
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        install_log_redaction()  # again, after uvicorn configured its loggers (idempotent)
        yield
        await producer.close()

    app = FastAPI(
        title="Pipeline Review — ingest",
        version="1",
        description="Turns CRM payloads into canonical deal events on Kafka. 2xx only after Kafka acknowledged.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.open_mode = open_mode
    app.state.producer = producer
    app.state.metrics = metrics
    # Open only while ingest itself runs open; else PR_METRICS_TOKEN (services/shared/metrics.py).
    app.mount("/metrics", guarded_metrics_app(metrics.registry, settings.common.metrics_token, open_mode))
    app.add_middleware(HttpLatency, registry=metrics.registry, service="ingest")
    if tracing.configure("ingest", settings.common.otlp_endpoint) or tracing.enabled():
        app.add_middleware(tracing.TraceRequests, service="ingest")

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        metrics.rejected.labels(str(exc.status)).inc()
        return JSONResponse({"detail": exc.message, "errors": exc.errors}, status_code=exc.status)

    @app.exception_handler(RateLimited)
    async def rate_limited(_request: Request, exc: RateLimited) -> JSONResponse:
        metrics.rejected.labels("429").inc()
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    async def rate_limit(request: Request, who: str | None) -> None:
        """Count the request against ``who`` (a key's name), or the client address when None."""
        await limiter.hit(who or f"address:{request.client.host if request.client else 'unknown'}")

    def caller(request: Request) -> IngestKey | None:
        """The calling key; None in open mode; 401 when a key is needed and missing or unknown."""
        if open_mode:
            return None
        key = keys.resolve(key_from_headers({k.lower(): v for k, v in request.headers.items()}))
        if key is None:
            raise BadRequest(401, "X-API-Key (or Authorization: Bearer): missing or unknown ingest key")
        return key

    @app.exception_handler(KafkaUnavailable)
    async def kafka_down(_request: Request, exc: KafkaUnavailable) -> JSONResponse:
        metrics.rejected.labels("503").inc()
        return JSONResponse(
            {"detail": f"Kafka unavailable, nothing was accepted: {exc}"},
            status_code=503,
            headers={"Retry-After": str(settings.retry_after)},
        )

    async def publish(events: list[DealEvent]) -> None:
        records = [(e.deal_id.encode(), encode_event(e)) for e in events]
        with metrics.kafka_latency.time():
            if tracing.enabled():
                await traced_send(producer, settings.common.deal_events_topic, records)
            else:
                await producer.send(settings.common.deal_events_topic, records)
        for source, count in collections.Counter(e.source for e in events).items():
            metrics.accepted.labels(source).inc(count)

    app.state.publish = publish

    async def publish_dead_letters(source: str, letters: list[DeadLetter], received_at: dt.datetime) -> None:
        records = [(source.encode(), dead_letter_record(source, letter, received_at)) for letter in letters]
        if tracing.enabled():
            await traced_send(producer, settings.common.dead_letter_topic, records)
        else:
            await producer.send(settings.common.dead_letter_topic, records)
        metrics.dead_lettered.labels(source).inc(len(letters))

    @app.post(
        "/v1/events",
        status_code=202,
        response_model=Accepted,
        summary="Post one canonical deal event or a batch (all-or-nothing)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/DealEvent"},
                                {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/DealEvent"},
                                    "maxItems": settings.max_batch,
                                },
                            ]
                        }
                    }
                },
            }
        },
        responses={
            401: {"description": "Missing or unknown ingest key (X-API-Key or Authorization: Bearer)"},
            403: {"description": "The key may not post this event's source; `detail` names the field"},
            413: {"description": "Body or batch too large"},
            422: {"description": "Invalid event; `detail` names the field"},
            429: {"description": "Too many requests for this key; see Retry-After"},
            503: {"description": "Kafka did not acknowledge; nothing was accepted"},
        },
    )
    async def post_events(request: Request) -> Accepted:
        key = caller(request)
        await rate_limit(request, f"key:{key.name}" if key else None)
        payload = await read_json(request, settings.max_body_bytes)
        events = parse_events(payload, settings.max_batch)
        batch = isinstance(payload, list)
        for index, event in enumerate(events):
            try:
                check_event(event, f"events[{index}]" if batch else "event", key, crm_sources)
            except EventRefused as exc:
                raise BadRequest(exc.status, str(exc)) from None
        check_clock_skew(events, clock() + max_clock_skew, batch)
        await publish(events)
        return Accepted(accepted=len(events), event_ids=[e.event_id for e in events])

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "service": "ingest"}

    # Public like /openapi.json: the contract of the topics for integrators, no data.
    topics_document = asyncapi_document(
        settings.common.topic_prefix,
        settings.common.deal_event_partitions,
        settings.common.topic_replication_factor,
        settings.common.dead_letter_retention_days,
    )

    @app.get("/asyncapi.json", summary="AsyncAPI 3 document of deal-events, deal-alerts and deal-events-dlq")
    async def asyncapi() -> JSONResponse:
        return JSONResponse(topics_document)

    @app.get("/readyz", summary="Readiness: Kafka reachable and deal-events exists")
    async def readyz() -> JSONResponse:
        ok = await producer.ready(settings.common.deal_events_topic)
        return JSONResponse({"status": "ready" if ok else "kafka unavailable"}, status_code=200 if ok else 503)

    add_source_routes(
        app,
        adapters,
        read_json,
        publish,
        publish_dead_letters,
        settings.max_body_bytes,
        clock,
        open_mode=open_mode,
        max_clock_skew=max_clock_skew,
        rate_limit=rate_limit,
    )
    _register_schemas(app)
    return app


async def traced_send(producer: EventProducer, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Send in a PRODUCER span whose context every record carries in its headers (tracing on only)."""
    with tracing.tracer().start_as_current_span(
        f"send {topic}",
        kind=tracing.SpanKind.PRODUCER,
        attributes={"messaging.destination.name": topic, "messaging.batch.message_count": len(records)},
    ):
        await producer.send(topic, records, headers=tracing.kafka_headers())


def _register_schemas(app: FastAPI) -> None:
    """Put DealEvent into the OpenAPI components (the body is parsed by hand for clear errors)."""
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        defs = TypeAdapter(DealEvent).json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, sub in defs.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["DealEvent"] = defs
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
