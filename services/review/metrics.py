"""The review service's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    """The review service's Prometheus metrics, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stream_clients = Gauge(
            "review_stream_clients", "Live alert stream clients connected.", registry=self.registry
        )
        self.stream_dropped = Counter(
            "review_stream_dropped_total", "Live-stream clients dropped for falling behind.", registry=self.registry
        )
        self.actions = Counter(
            "review_actions_total",
            "Managers' actions Kafka acknowledged, by event type "
            "(deal.reviewed, deal.help_offered, deal.discount_decided).",
            ["type"],
            registry=self.registry,
        )
        self.acks = Counter("review_alert_acks_total", "Alert acknowledgements recorded.", registry=self.registry)
        self.webhook_deliveries = Counter(
            "pr_webhook_deliveries_total",
            "Webhook delivery attempts by outcome: delivered, failed (retried later), dead (the last attempt failed).",
            ["outcome"],
            registry=self.registry,
        )
