"""Prometheus pieces every service uses alike: HTTP latency per route, consumer lag, who may read /metrics.

Names and labels are the ones docs/deploy.md lists ("Metrics the dashboard expects"); the
Grafana dashboard and the alerting rules in deploy/ read them.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Histogram, make_asgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import SecretStr

from .auth import is_loopback_host, key_from_headers

# Route label of a request no route matched: scanners' random paths must not become label values.
UNMATCHED_ROUTE = "unmatched"
# Up to 10 s: beyond, the request has timed out for any client anyway.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Ingest's acceptance to the read-model write: from a few ms (one batch) to a minute behind.
FRESHNESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def route_template(scope: Mapping) -> str:
    """The template of the route that served ``scope`` (``/v1/deals/{deal_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # A mounted app (``/metrics``) leaves its mount point in root_path.
    root = scope.get("root_path")
    return root if isinstance(root, str) and root else UNMATCHED_ROUTE


class HttpLatency:
    """ASGI middleware: ``pr_http_request_duration_seconds{service, route, method, status}``.

    The time is measured until the response starts (its status line and headers): for a
    live stream (SSE) that is when the stream opens, not when the client leaves. WebSockets
    are not counted. Methods outside the standard ones are recorded as ``other``.
    """

    METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

    def __init__(self, app, registry: CollectorRegistry, service: str):
        self.app = app
        self.service = service
        self.histogram = _http_histogram(registry)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def timed_send(message) -> None:
            if message["type"] == "http.response.start" and not status:
                status.append(message["status"])
                self._observe(scope, status[0], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            if not status:
                self._observe(scope, 500, time.perf_counter() - started)
            raise

    def _observe(self, scope, status: int, seconds: float) -> None:
        method = scope.get("method", "")
        self.histogram.labels(
            self.service, route_template(scope), method if method in self.METHODS else "other", str(status)
        ).observe(seconds)


def _http_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "pr_http_request_duration_seconds",
        "Time until an HTTP response starts, per route template.",
        ["service", "route", "method", "status"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )


LagReader = Callable[[], Iterable[tuple[str, int, int]]]


class ConsumerLag(Collector):
    """``pr_consumer_lag{group, topic, partition}``, read at scrape time from the consumer.

    ``read`` yields (topic, partition, lag) for the partitions assigned to this process only,
    so a partition is reported by one process at a time and a moved one disappears here.
    """

    def __init__(self, group: str, read: LagReader):
        self.group = group
        self.read = read

    def collect(self):
        family = GaugeMetricFamily(
            "pr_consumer_lag",
            "Records on the partition not yet read by this consumer group.",
            labels=["group", "topic", "partition"],
        )
        try:
            lags = sorted(self.read())
        except Exception:  # noqa: BLE001 - a consumer between two states: no sample rather than a failed scrape
            lags = []
        for topic, partition, lag in lags:
            family.add_metric([self.group, topic, str(partition)], max(lag, 0))
        yield family

    def describe(self):
        return []  # collected at scrape time only; registering must not call the consumer


# ---------------------------------------------------------------------------------- access


def metrics_open(host: str, credentials_configured: bool, allow_open: bool) -> bool:
    """Whether /metrics answers without PR_METRICS_TOKEN: only when the service itself runs open.

    That is: no API keys configured and bound to loopback (or PR_ALLOW_OPEN). A service that
    requires keys does not publish its figures (key names, sources, routes) to anyone.
    """
    return not credentials_configured and (is_loopback_host(host) or allow_open)


def metrics_allowed(headers: Mapping[str, str], token: SecretStr | None, open_: bool) -> bool:
    """Whether a scrape with these (lower-cased) headers may read /metrics."""
    if token is not None:
        given = key_from_headers(headers) or ""
        return hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    return open_


REFUSED_BODY = (
    b'{"detail": "/metrics needs Authorization: Bearer <PR_METRICS_TOKEN> (the service requires '
    b'credentials, so its metrics do too)"}'
)


def guarded_metrics_app(registry: CollectorRegistry, token: SecretStr | None, open_: bool):
    """prometheus_client's ASGI app behind :func:`metrics_allowed` (401 otherwise)."""
    inner = make_asgi_app(registry=registry)

    async def app(scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not metrics_allowed(headers, token, open_):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": REFUSED_BODY})
                return
        await inner(scope, receive, send)

    return app
