"""The scoring worker's metrics and, when tracing is on, its fold spans: kept out of the fold itself.

``pr_scoring_events_folded_total``, ``pr_alerts_raised_total{kind}``, ``pr_freshness_seconds``
(a record's Kafka timestamp, set when ingest accepted the event, to the end of the read-model
write of its batch) and ``pr_consumer_lag`` of the worker's own deal-events partitions.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Sequence
from contextlib import contextmanager

import faust
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from services.shared import tracing
from services.shared.metrics import FRESHNESS_BUCKETS, ConsumerLag, metrics_allowed, metrics_open

from .changelog import BulkChangelog
from .faust_compat import read_offsets
from .processor import BatchOutcome
from .settings import ScoringSettings


class FoldMetrics:
    """Counts what the fold agent did; ``observe`` runs once per batch."""

    def __init__(
        self, app: faust.App, settings: ScoringSettings, topic: str, registry: CollectorRegistry | None = None
    ):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.folded = Counter(
            "pr_scoring_events_folded_total",
            "Events folded into deal states (duplicates included, invalid ones not).",
            registry=self.registry,
        )
        self.alerts = Counter("pr_alerts_raised_total", "Alerts raised, by kind.", ["kind"], registry=self.registry)
        self.freshness = Histogram(
            "pr_freshness_seconds",
            "From ingest's acceptance of an event (its Kafka timestamp) to the read-model write of its batch.",
            buckets=FRESHNESS_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(ConsumerLag(settings.app_id, lambda: deal_events_lag(app, topic)))
        common = settings.common
        self.token = common.metrics_token
        # The worker has no API keys: its metrics are open only on loopback (or PR_ALLOW_OPEN).
        self.open = metrics_open(settings.web_host, credentials_configured=False, allow_open=common.allow_open)

    def observe(self, events: Sequence[faust.EventT], outcome: BatchOutcome) -> None:
        self.folded.inc(outcome.applied + outcome.duplicates)
        for kind, count in Tally(alert.kind for alert in outcome.alerts).items():
            self.alerts.labels(kind).inc(count)
        now = time.time()
        observe = self.freshness.observe
        for event in events:
            stamp = event.message.timestamp  # seconds; the producer's CreateTime (or the broker's append time)
            if stamp and stamp > 0:
                observe(max(now - stamp, 0.0))

    def page(self, web, request):
        """The /metrics answer of the worker's web server (401 without the token when one is needed)."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not metrics_allowed(headers, self.token, self.open):
            return web.json(
                {"detail": "/metrics needs Authorization: Bearer <PR_METRICS_TOKEN>"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        content_type = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"  # aiohttp adds the charset itself
        return web.text(generate_latest(self.registry).decode(), content_type=content_type)


def deal_events_lag(app: faust.App, topic: str):
    """(topic, partition, lag) of this worker's deal-events partitions: highwater minus the next offset to read."""
    consumer = app.consumer
    read = read_offsets(consumer)
    for tp in consumer.assignment():
        if tp.topic != topic:
            continue
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        last = read.get(tp)
        yield tp.topic, tp.partition, highwater - (last + 1 if last is not None else 0)


@contextmanager
def fold_spans(events: Sequence[faust.EventT], changelog: BulkChangelog):
    """While tracing is on: a CONSUMER span per event, child of the context its record carries,
    for the time its batch takes to fold; an alert the event raises carries that span's context."""
    tracer = tracing.tracer()
    spans = []
    by_event_id = {}
    for event in events:
        message = event.message
        span = tracer.start_span(
            "fold deal-events",
            context=tracing.context_from_headers(message.headers),
            kind=tracing.SpanKind.CONSUMER,
            attributes={
                "messaging.destination.name": message.topic,
                "messaging.destination.partition.id": str(message.partition),
                "messaging.kafka.offset": message.offset,
            },
        )
        spans.append(span)
        event_id = _event_id(event.value)
        if event_id is not None:
            by_event_id[event_id] = span

    def alert_headers(alert) -> list[tuple[str, bytes]] | None:
        event_id = getattr(alert, "event_id", None)
        span = by_event_id.get(event_id) if event_id is not None else None
        return tracing.kafka_headers(tracing.link_context(span)) if span is not None else None

    changelog.alert_headers = alert_headers
    try:
        yield
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(tracing.Status(tracing.StatusCode.ERROR))
        raise
    finally:
        changelog.alert_headers = None
        for span in spans:
            span.end()


def _event_id(raw: bytes) -> str | None:
    try:
        value = orjson.loads(raw).get("event_id")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return None
    return value if isinstance(value, str) else None
