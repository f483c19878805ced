"""Fixtures for the review service's alert feed: alert builders, a Kafka producer, review processes."""

from __future__ import annotations

import itertools
import json
import uuid

import httpx
import pytest
from kafka import KafkaProducer

from testkit.processes import Service, free_port
from tests.conftest import settings_env

_n = itertools.count(1)


def make_alert(
    team: str = "East",
    kind: str = "late_stage_discount",
    manager_id: str = "m-1",
    occurred_at: str = "2026-11-20T09:30:00+00:00",
    **extra,
) -> dict:
    """An alert shaped like scoring's discount_alert(), with a fresh alert_id."""
    n = next(_n)
    return {
        "alert_id": f"al-{uuid.uuid4().hex[:12]}-{n}",
        "kind": kind,
        "severity": "high",
        "deal_id": f"api:deal-{n}",
        "event_id": f"ev-{n}",
        "name": f"Deal {n}",
        "account": "Acme",
        "owner_id": "u-1",
        "team": team,
        "manager_id": manager_id,
        "stage": "Negotiation/Review",
        "phase": "late",
        "amount": 100000.0,
        "currency": "EUR",
        "discount_pct": 10.0,
        "discount_reason": "price",
        "value_at_risk": 10000.0,
        "requested_by": "u-1",
        "occurred_at": occurred_at,
    } | extra


def produce(settings, alerts: list[dict]) -> None:
    """Put alerts on deal-alerts the way scoring does (key = deal_id), acknowledged by Kafka."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for alert in alerts:
            producer.send(settings.deal_alerts_topic, key=alert["deal_id"].encode(), value=json.dumps(alert).encode())
        producer.flush(30)
    finally:
        producer.close()


@pytest.fixture
def review_process(common_settings, tmp_path):
    """Start review processes on free ports (call with extra env); all are stopped at the end."""
    started: list[Service] = []

    def start(port: int | None = None, **env: str) -> tuple[Service, str]:
        port = port or free_port()
        service = Service(
            "review",
            settings_env(common_settings) | {"PR_REVIEW_PORT": str(port)} | env,
            f"http://127.0.0.1:{port}/readyz",
            tmp_path,
        )
        started.append(service)
        service.start()
        return service, f"http://127.0.0.1:{port}"

    yield start
    for service in started:
        service.stop()


def feed_ids(base: str, **params) -> list[str]:
    """Every alert_id on the feed, oldest first (walks all pages)."""
    ids, cursor = [], None
    while True:
        query = {"limit": 500} | params | ({"cursor": cursor} if cursor else {})
        page = httpx.get(f"{base}/v1/alerts", params=query, timeout=10).json()
        ids += [item["alert_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return list(reversed(ids))


def append_direct(settings, alerts: list[dict]) -> list[str]:
    """Put alerts on the Redis feed the way the review consumer does (same dedup script)."""
    import redis as sync_redis

    from services.review.alert_feed import APPEND_ONCE

    client = sync_redis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        script = client.register_script(APPEND_ONCE)
        keys = [settings.keys.alerts_stream(), settings.keys.alert_positions()]
        with client.pipeline(transaction=False) as pipe:
            for alert in alerts:
                script(keys=keys, args=[alert["alert_id"], json.dumps(alert)], client=pipe)
            return [sid.decode() for sid, _ in pipe.execute()]
    finally:
        client.close()


class SSEReader:
    """A minimal Server-Sent Events reader over an httpx streaming response."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.lines = response.iter_lines()
        self.comments: list[str] = []

    def next_event(self) -> dict | None:
        """The next event (comments are collected, not returned); None at the end of the stream."""
        event: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value
        return None

    def alerts(self, count: int) -> list[dict]:
        out = []
        while len(out) < count:
            event = self.next_event()
            assert event is not None, f"stream ended after {len(out)} of {count} alerts"
            assert event["event"] == "alert"
            item = json.loads(event["data"])
            assert item["cursor"] == event["id"]
            out.append(item)
        return out
