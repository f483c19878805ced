"""End to end on a Redis Cluster of three masters: the lists and the alert feed, with hash-tagged keys."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
import redis

from services.admin.topics import ensure_topics
from services.shared.settings import CommonSettings
from tests.e2e.conftest import running_stack
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


def canonical(deal_id: str, type: str, minutes: int, **changes) -> dict:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1) + dt.timedelta(minutes=minutes)
    return {
        "event_id": f"{deal_id}-{minutes}-{type}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": when.isoformat(),
        "type": type,
        "changes": changes,
    }


@pytest.fixture
def cluster_settings(kafka_bootstrap, redis_cluster_url):
    tag = uuid.uuid4().hex[:8]
    settings = CommonSettings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_cluster_url,
        redis_cluster=True,
        topic_prefix=f"t{tag}-",
        redis_prefix=f"t{tag}",
    )
    ensure_topics(settings)
    return settings


def test_the_pipeline_runs_on_a_redis_cluster_with_every_key_in_one_slot(cluster_settings, redis_cluster_url, tmp_path):
    cluster = redis.RedisCluster.from_url(redis_cluster_url)
    masters = {node.name for node in cluster.get_primaries()}
    assert len(masters) == 3, f"expected a cluster of three masters, got {masters}"
    events = [
        canonical(
            "api:early",
            "deal.created",
            0,
            name="Early",
            account="Acme",
            owner_id="u1",
            team="East",
            stage="Prospecting",
            amount=400_000,
            close_date="2031-01-31",
        ),
        canonical(
            "api:late",
            "deal.created",
            0,
            name="Late",
            account="Beta",
            owner_id="u2",
            team="West",
            stage="Negotiation/Review",
            amount=200_000,
            close_date=dt.date.today().isoformat(),
        ),
        canonical("api:late", "deal.discount_requested", 5, discount_pct=10, requested_by="u2"),
    ]
    with running_stack(cluster_settings, tmp_path) as stack, httpx.Client(timeout=30) as client:
        assert client.post(f"{stack['ingest']}/v1/events", json=events).status_code == 202

        def feed():
            # (the late deal's qualification_gap alert is on the feed too)
            items = client.get(f"{stack['review']}/v1/alerts", params={"kind": "late_stage_discount"}).json()["items"]
            return items or None

        alerts = wait_until(feed, timeout=30, what="the late-stage discount alert in the feed")
        assert [(a["kind"], a["deal_id"], a["value_at_risk"]) for a in alerts] == [
            ("late_stage_discount", "api:late", 20_000)
        ]
        assert wait_until(
            lambda: [i["deal_id"] for i in client.get(f"{stack['review']}/v1/lists/leader").json()["items"]],
            timeout=15,
            what="the early deal on the leader list",
        ) == ["api:early"]
        manager = client.get(f"{stack['review']}/v1/lists/manager", params={"team": "West"}).json()["items"]
        assert [i["deal_id"] for i in manager] == ["api:late"]
        card = client.get(f"{stack['review']}/v1/deals/api:late").json()
        assert card["amount"] == 200_000
        # A manager's decision goes back through Kafka onto the scorecard hash, in the same slot.
        decided = client.post(
            f"{stack['review']}/v1/alerts/{alerts[0]['alert_id']}/decision", json={"decision": "approved", "by": "ana"}
        )
        assert decided.status_code == 202, decided.text
        scored = wait_until(
            lambda: (
                client.get(f"{stack['review']}/v1/scorecards/ana").json().get("late_discounts", {}).get("count") == 1
            ),
            timeout=30,
            what="ana's scorecard",
        )
        assert scored

    prefix = cluster_settings.keys.prefix
    assert prefix == "{" + cluster_settings.redis_prefix + "}"
    keys = [k.decode() for k in cluster.scan_iter(match=f"{prefix}:*", target_nodes=redis.RedisCluster.ALL_NODES)]
    assert f"{prefix}:deal:api:late" in keys and f"{prefix}:alerts" in keys and f"{prefix}:rank:leader" in keys
    assert any(k.startswith(f"{prefix}:scorecards:") for k in keys) and f"{prefix}:alert-decisions" in keys
    # One slot, so one master: the transactions and Lua scripts of the read model and the feed ran there.
    slots = {cluster.keyslot(k) for k in keys}
    assert len(slots) == 1, f"keys spread over slots {slots}"
    cluster.close()
