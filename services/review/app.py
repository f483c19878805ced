"""The review HTTP service's composition root: wires Redis, Kafka, the clock and access control, then the routers."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.shared import tracing
from services.shared.kafka_config import kafka_client_options
from services.shared.log_redaction import install_log_redaction
from services.shared.metrics import ConsumerLag, HttpLatency, guarded_metrics_app, metrics_open
from services.shared.producer import EventProducer
from services.shared.redis_client import REDIS_UNAVAILABLE, redis_client

from .access import AccessMiddleware, KeyTable
from .alert_feed import AlertIngestor, AlertStore, AlertTrimmer
from .alerts import StreamMessage
from .dashboard import add_dashboard_routes
from .lists import Clock, ListReader
from .metrics import Metrics
from .routes import actions as actions_routes
from .routes import alerts as alerts_routes
from .routes import deals as deals_routes
from .routes import health as health_routes
from .routes import lists as lists_routes
from .routes import movement as movement_routes
from .routes import scorecards as scorecards_routes
from .settings import ReviewSettings
from .stream_tokens import StreamTokens
from .streams import AlertHub
from .webhooks import WebhookDispatcher, add_webhook_routes

log = logging.getLogger("services.review")


# Seconds a client is asked to wait when Redis is unavailable: about a Redis restart from its
# append-only file, and twice the worker's longest retry pause.
REDIS_RETRY_AFTER = 5


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(settings: ReviewSettings | None = None, clock: Clock = utc_now, redis=None, producer=None) -> FastAPI:
    """Wire Redis, Kafka, the clock, access control and the routes.

    ``producer`` (an EventProducer by default) sends the managers' actions onto deal-events."""
    settings = settings or ReviewSettings()
    redis = redis or redis_client(settings.common)
    producer = producer or EventProducer(
        settings.common.kafka_bootstrap,
        timeout=settings.action_timeout,
        client_id="pr-review",
        max_pending=1000,
        client_options=kafka_client_options(settings.common),
    )
    keys = settings.common.keys
    webhooks = WebhookDispatcher(redis, keys, settings.webhook)
    lists = ListReader(redis, keys, clock, settings.manager_horizon_quarters, settings.max_scan_rows)
    stream_tokens = StreamTokens(redis, keys, settings.stream_token_ttl)
    store = AlertStore(redis, keys)
    metrics = Metrics()
    hub = AlertHub(store, settings.stream_queue_size, on_drop=metrics.stream_dropped.inc)
    key_table = KeyTable.from_settings(
        settings.api_keys.get_secret_value() if settings.api_keys else None, settings.api_keys_file
    )
    ingestor = (
        AlertIngestor(
            store,
            settings.common.kafka_bootstrap,
            settings.common.deal_alerts_topic,
            settings.common.topic_prefix + settings.alert_group,
            retention_days=settings.alert_retention_days,
            client_options=kafka_client_options(settings.common),
        )
        if settings.alert_feed_enabled
        else None
    )
    trimmer = AlertTrimmer(store, settings.alert_retention_days, settings.alert_trim_interval)
    webhooks.on_outcome = lambda outcome: metrics.webhook_deliveries.labels(outcome).inc()
    if ingestor is not None:
        metrics.registry.register(
            ConsumerLag(ingestor.group, lambda: ((t, p, n) for (t, p), n in ingestor.lag.items()))
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Again here, after uvicorn configured its loggers (idempotent).
        install_log_redaction()
        if key_table.open:
            log.warning(
                "NO API KEYS CONFIGURED: review is OPEN, every caller is an admin. "
                "Set PR_REVIEW_API_KEYS or PR_REVIEW_API_KEYS_FILE."
            )
        hub.start()
        trimmer.start()
        if ingestor is not None:
            ingestor.start()
        if settings.webhook.enabled:
            await webhooks.start()
        try:
            yield
        finally:
            await webhooks.stop()
            if ingestor is not None:
                await ingestor.stop()
            await hub.stop()
            await trimmer.stop()
            await producer.close()
            await redis.aclose()

    app = FastAPI(
        title="Pipeline Review — review",
        version="1",
        description="The leader list beside the manager list, deal cards and late-stage discount alerts.\n\n"
        "Every /v1 route needs an API key in a header (`X-API-Key` or `Authorization: Bearer`; never "
        "in the URL) unless the service runs open (no keys configured). The live stream also takes a "
        "short-lived `?token=` from `POST /v1/alerts/stream-token`. Roles: admin; manager (its teams "
        "only); dashboard (read-only).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.lists = lists
    app.state.alert_store = store
    app.state.alert_hub = hub
    app.state.alert_ingestor = ingestor
    app.state.alert_trimmer = trimmer
    app.state.keys = key_table
    app.state.metrics = metrics
    app.state.stream_tokens = stream_tokens
    app.state.redis_keys = keys
    app.state.producer = producer
    app.state.clock = clock
    install_log_redaction()
    app.add_middleware(AccessMiddleware, keys=key_table, redeem_token=stream_tokens.redeem)
    app.add_middleware(HttpLatency, registry=metrics.registry, service="review")  # outermost: 401s are timed too
    if tracing.configure("review", settings.common.otlp_endpoint) or tracing.enabled():
        app.add_middleware(tracing.TraceRequests, service="review")

    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A route that needs Redis while it is down or not answering (redis_timeout): the
        # outage is temporary and the caller should come back, so 503 rather than 500.
        log.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"the read model (Redis) is unavailable, retry shortly: {exc}"},
            status_code=503,
            headers={"Retry-After": str(REDIS_RETRY_AFTER)},
        )

    for error in REDIS_UNAVAILABLE:
        app.add_exception_handler(error, redis_unavailable)
    # Open only while review itself runs open; else PR_METRICS_TOKEN (services/shared/metrics.py).
    app.mount(
        "/metrics",
        guarded_metrics_app(
            metrics.registry,
            settings.common.metrics_token,
            metrics_open(settings.host, not key_table.open, settings.common.allow_open),
        ),
    )

    # Order kept: it is the order of the paths in the OpenAPI document.
    app.include_router(lists_routes.router)
    app.include_router(deals_routes.router)
    app.include_router(alerts_routes.router)
    app.include_router(actions_routes.router)  # reviews, help, discount decisions
    app.include_router(scorecards_routes.router)

    def openapi() -> dict[str, Any]:
        # OpenAPI cannot describe a WebSocket route: publish its message shape as a component.
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {})["StreamMessage"] = (
                StreamMessage.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema

    # ---- outgoing webhooks and the dashboard page (both read request.state.principal) ---------
    app.state.webhooks = webhooks
    app.include_router(movement_routes.router)  # /v1/pipeline/flow, /v1/lists/stalled
    add_webhook_routes(app, redis, keys)
    add_dashboard_routes(app)

    app.include_router(health_routes.router)
    return app
