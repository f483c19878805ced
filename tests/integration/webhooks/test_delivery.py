"""The delivery service against real Redis and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from services.review.webhooks.rules import WebhookFilter, verify_signature
from tests.helpers import await_until

from .conftest import Behaviour, fast_settings

pytestmark = pytest.mark.integration


def alert(**over):
    base = {
        "alert_id": f"al-{uuid.uuid4().hex[:12]}",
        "kind": "late_stage_discount",
        "severity": "medium",
        "deal_id": "api:acme",
        "event_id": "ev-1",
        "name": "Acme expansion",
        "account": "Acme",
        "owner_id": "u-1",
        "team": "East",
        "manager_id": "m-1",
        "stage": "Negotiation/Review",
        "phase": "late",
        "amount": 200000.0,
        "currency": "EUR",
        "discount_pct": 15.0,
        "discount_reason": "competitor",
        "value_at_risk": 30000.0,
        "requested_by": "rep-1",
        "occurred_at": "2026-11-02T09:00:00+00:00",
    }
    return base | over


async def publish(redis, *alerts):
    client, keys = redis
    for a in alerts:
        await client.xadd(keys.alerts_stream(), {"alert": json.dumps(a)})


async def settled(redis, timeout: float = 10.0) -> None:
    """Wait until the dispatchers have nothing left to do: every alert read and acknowledged by the
    consumer group, no delivery job queued, due or in flight. Nothing can be delivered after that,
    so a count read then is final (a check that something did not happen, without a sleep)."""
    client, keys = redis

    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    async def idle() -> bool:
        last = text((await client.xinfo_stream(keys.alerts_stream()))["last-generated-id"])
        groups = await client.xinfo_groups(keys.alerts_stream())
        read = bool(groups) and all(g["pending"] == 0 and text(g["last-delivered-id"]) == last for g in groups)
        queued = (
            await client.hlen(keys.webhook_jobs())
            + await client.zcard(keys.webhook_due())
            + await client.zcard(keys.webhook_inflight())
        )
        return read and queued == 0

    await await_until(idle, timeout=timeout, interval=0.05, what="the dispatchers to settle")


async def test_an_alert_is_delivered_signed_to_a_matching_subscription(redis, receiver, store, dispatchers):
    sub = await store.create(receiver.url("a"), "json", WebhookFilter())
    await dispatchers()
    sent = alert()
    before = int(time.time())
    await publish(redis, sent)

    got = (await await_until(lambda: _async(receiver.at("a")), timeout=10, what="delivery"))[0]
    assert got.json() == {"type": "alert", "subscription_id": sub.id, "alert": sent}
    assert verify_signature(sub.secret, got.headers["x-pipelinereview-signature"], got.body)
    timestamp = int(got.headers["x-pipelinereview-signature"].split(",")[0].removeprefix("t="))
    assert before <= timestamp <= int(time.time())
    assert got.headers["x-pipelinereview-alert-id"] == sent["alert_id"]
    assert got.headers["x-pipelinereview-delivery"]
    assert got.headers["content-type"] == "application/json"
    stats = await await_until(lambda: _stats_when(store, sub.id, delivered=1), timeout=5, what="stats")
    assert stats["failed_attempts"] == 0 and stats["last_status"] == 200


async def test_slack_subscription_gets_a_slack_message(redis, receiver, store, dispatchers):
    sub = await store.create(receiver.url("slack"), "slack", WebhookFilter())
    await dispatchers()
    await publish(redis, alert())
    got = (await await_until(lambda: _async(receiver.at("slack")), timeout=10, what="delivery"))[0]
    body = got.json()
    assert set(body) == {"text", "blocks"} and "Acme expansion" in body["text"]
    assert verify_signature(sub.secret, got.headers["x-pipelinereview-signature"], got.body)


async def test_a_receiver_failing_twice_gets_the_alert_on_the_third_attempt(redis, receiver, store, dispatchers):
    receiver.behaviour["flaky"] = Behaviour(statuses=[500, 503])
    sub = await store.create(receiver.url("flaky"), "json", WebhookFilter())
    await dispatchers(fast_settings(max_attempts=3, backoff_base=0.2), rand=lambda: 0.0)
    sent = alert()
    await publish(redis, sent)

    attempts = await await_until(
        lambda: _async(len(receiver.at("flaky")) >= 3 and receiver.at("flaky")), timeout=10, what="three attempts"
    )
    assert [a.headers["x-pipelinereview-alert-id"] for a in attempts] == [sent["alert_id"]] * 3
    assert len({a.headers["x-pipelinereview-delivery"] for a in attempts}) == 3
    assert [a.headers["x-pipelinereview-attempt"] for a in attempts] == ["1", "2", "3"]
    # Backoff with jitter fixed at its low end: 0.1 s, then 0.2 s.
    assert attempts[1].arrived - attempts[0].answered >= 0.09
    assert attempts[2].arrived - attempts[1].answered >= 0.19
    stats = await await_until(lambda: _stats_when(store, sub.id, delivered=1), timeout=5, what="stats")
    assert stats["failed_attempts"] == 2 and stats["dead_letters"] == 0
    await settled(redis)
    assert len(receiver.at("flaky")) == 3
    assert (await store.dead_letters(sub.id))[0] == []


async def test_retry_after_is_honoured(redis, receiver, store, dispatchers):
    receiver.behaviour["busy"] = Behaviour(statuses=[429], headers={"Retry-After": "1"})
    await store.create(receiver.url("busy"), "json", WebhookFilter())
    await dispatchers(fast_settings(backoff_base=0.05, backoff_max=5))
    await publish(redis, alert())
    first, second = await await_until(
        lambda: _async(len(receiver.at("busy")) >= 2 and receiver.at("busy")), timeout=10, what="a retry"
    )
    assert second.arrived - first.answered >= 0.95


async def test_a_receiver_always_failing_ends_in_a_dead_letter(redis, receiver, store, dispatchers):
    receiver.behaviour["down"] = Behaviour(always=500)
    sub = await store.create(receiver.url("down"), "json", WebhookFilter())
    await dispatchers(fast_settings(max_attempts=3, backoff_base=0.1))
    sent = alert()
    await publish(redis, sent)

    stats = await await_until(lambda: _stats_when(store, sub.id, dead_letters=1), timeout=10, what="dead letter")
    assert stats["delivered"] == 0 and stats["failed_attempts"] == 3 and stats["last_error"] == "HTTP 500"
    items, cursor = await store.dead_letters(sub.id)
    assert cursor is None and len(items) == 1
    dead = items[0]
    assert dead["subscription_id"] == sub.id and dead["alert"] == sent and dead["attempts"] == 3
    assert dead["last_error"] == "HTTP 500" and dead["last_status"] == 500
    await settled(redis)
    assert len(receiver.at("down")) == 3
    client, keys = redis
    assert await client.zcard(keys.webhook_due()) == 0 and await client.zcard(keys.webhook_inflight()) == 0
    assert await client.hlen(keys.webhook_jobs()) == 0


async def test_connection_errors_and_timeouts_are_retried_then_dead_lettered(redis, receiver, store, dispatchers):
    receiver.behaviour["slow"] = Behaviour(delay=3.0)
    slow = await store.create(receiver.url("slow"), "json", WebhookFilter())
    refused = await store.create("http://127.0.0.1:9/nothing-listens", "json", WebhookFilter())
    await dispatchers(fast_settings(max_attempts=2, backoff_base=0.1, timeout=0.5))
    await publish(redis, alert())
    for sub, error in ((slow, "timeout"), (refused, "connection failed")):
        stats = await await_until(
            lambda sub=sub: _stats_when(store, sub.id, dead_letters=1), timeout=10, what="dead letter"
        )
        assert stats["last_error"] == error  # generic: never the exception's text
        dead = (await store.dead_letters(sub.id))[0][0]
        assert dead["attempts"] == 2 and dead["last_error"] == error


async def test_a_slow_or_failing_receiver_does_not_delay_other_subscriptions(redis, receiver, store, dispatchers):
    receiver.behaviour["slow"] = Behaviour(delay=3.0)
    receiver.behaviour["down"] = Behaviour(always=500)
    for name in ("slow", "down", "fast"):
        await store.create(receiver.url(name), "json", WebhookFilter())
    await dispatchers(fast_settings(timeout=5.0, max_attempts=5, backoff_base=0.1, concurrency=8))
    sent = [alert() for _ in range(3)]
    published = time.monotonic()
    await publish(redis, *sent)

    fast = await await_until(
        lambda: _async(len(receiver.at("fast")) == 3 and receiver.at("fast")),
        timeout=10,
        interval=0.05,
        what="fast deliveries",
    )
    assert max(r.answered for r in fast) - published < 1.5
    assert all(r.answered is None for r in receiver.at("slow")), "fast ones must not wait for the slow receiver"
    assert {r.json()["alert"]["alert_id"] for r in fast} == {a["alert_id"] for a in sent}


async def test_filters_decide_who_gets_what(redis, receiver, store, dispatchers):
    await store.create(receiver.url("east"), "json", WebhookFilter(teams=["East"]))
    await store.create(receiver.url("m2"), "json", WebhookFilter(manager_id="m-2"))
    await store.create(receiver.url("big"), "json", WebhookFilter(min_value_at_risk=50_000))
    await store.create(receiver.url("info"), "json", WebhookFilter(kinds=["discount_info"]))
    await store.create(receiver.url("high"), "json", WebhookFilter(min_severity="high"))
    await dispatchers()
    east_small = alert(team="East", manager_id="m-1", value_at_risk=1000.0, severity="low")
    west_big = alert(team="West", manager_id="m-2", value_at_risk=90_000.0, severity="high")
    info = alert(kind="discount_info", severity="info", team="East", value_at_risk=60_000.0)
    await publish(redis, east_small, west_big, info)

    expected = {
        "east": {east_small["alert_id"]},
        "m2": {west_big["alert_id"]},
        "big": {west_big["alert_id"]},
        "info": {info["alert_id"]},
        "high": {west_big["alert_id"]},
    }

    def got():
        return {name: {r.headers["x-pipelinereview-alert-id"] for r in receiver.at(name)} for name in expected}

    await await_until(lambda: _async(got() == expected), timeout=10, what=f"filtered deliveries, got {got()}")
    await settled(redis)
    assert got() == expected and len(receiver.requests) == 5


async def test_a_restart_resumes_without_redelivering_acknowledged_alerts(redis, receiver, store, dispatchers):
    await store.create(receiver.url("a"), "json", WebhookFilter())
    first = await dispatchers()
    one = alert()
    await publish(redis, one)
    await await_until(lambda: _async(receiver.at("a")), timeout=10, what="first delivery")
    await first.stop()

    two = alert()
    await publish(redis, two)  # raised while no instance runs
    await dispatchers()
    three = alert()
    await publish(redis, three)
    await await_until(lambda: _async(len(receiver.at("a")) >= 3), timeout=10, what="deliveries after restart")
    await settled(redis)
    ids = [r.headers["x-pipelinereview-alert-id"] for r in receiver.at("a")]
    assert sorted(ids) == sorted([one["alert_id"], two["alert_id"], three["alert_id"]])
    client, keys = redis
    assert (await client.xpending(keys.alerts_stream(), "webhooks"))["pending"] == 0


async def test_alerts_read_by_a_crashed_instance_are_taken_over(redis, receiver, store, dispatchers):
    client, keys = redis
    await store.create(receiver.url("a"), "json", WebhookFilter())
    settings = fast_settings(claim_idle=0.3)
    first = await dispatchers(settings)
    await first.stop()
    lost = alert()
    await publish(redis, lost)
    # An instance that read the entry and died before acknowledging it.
    await client.xreadgroup("webhooks", "crashed", {keys.alerts_stream(): ">"}, count=10)
    await asyncio.sleep(0.35)
    await dispatchers(settings)
    got = await await_until(lambda: _async(receiver.at("a")), timeout=10, what="taken-over delivery")
    assert got[0].headers["x-pipelinereview-alert-id"] == lost["alert_id"]


async def test_two_instances_share_the_work_and_deliver_each_alert_once(redis, receiver, store, dispatchers):
    await store.create(receiver.url("a"), "json", WebhookFilter())
    await dispatchers()
    await dispatchers()
    sent = [alert() for _ in range(20)]
    await publish(redis, *sent)
    await await_until(lambda: _async(len(receiver.at("a")) >= 20), timeout=15, what="20 deliveries")
    await settled(redis)
    ids = [r.headers["x-pipelinereview-alert-id"] for r in receiver.at("a")]
    assert sorted(ids) == sorted(a["alert_id"] for a in sent)


async def test_unsubscribing_stops_pending_retries(redis, receiver, store, dispatchers):
    receiver.behaviour["down"] = Behaviour(always=500)
    sub = await store.create(receiver.url("down"), "json", WebhookFilter())
    await dispatchers(fast_settings(max_attempts=10, backoff_base=0.3, backoff_max=0.3))
    await publish(redis, alert())
    await await_until(lambda: _async(receiver.at("down")), timeout=10, what="first attempt")
    await store.delete(sub.id)
    seen = len(receiver.at("down"))
    await settled(redis)
    assert len(receiver.at("down")) <= seen + 1  # at most the attempt already under way


async def test_unreadable_stream_entries_are_skipped(redis, receiver, store, dispatchers):
    client, keys = redis
    await store.create(receiver.url("a"), "json", WebhookFilter())
    await dispatchers()
    await client.xadd(keys.alerts_stream(), {"alert": "not json"})
    await client.xadd(keys.alerts_stream(), {"other": "field"})
    good = alert()
    await publish(redis, good)
    got = await await_until(lambda: _async(receiver.at("a")), timeout=10, what="the good alert")
    assert got[0].headers["x-pipelinereview-alert-id"] == good["alert_id"]
    await await_until(lambda: _pending_is_zero(client, keys), timeout=5, what="all entries acknowledged")


async def _async(value):
    return value


async def _stats_when(store, subscription_id, **wanted):
    stats = await store.stats(subscription_id)
    return stats if all(stats.get(k) == v for k, v in wanted.items()) else None


async def _pending_is_zero(client, keys):
    return (await client.xpending(keys.alerts_stream(), "webhooks"))["pending"] == 0


async def test_start_and_stop_do_not_fail_while_redis_is_unreachable():
    import redis.asyncio as aioredis

    from services.review.webhooks import WebhookDispatcher
    from services.shared.keys import RedisKeys
    from testkit.processes import free_port

    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    dispatcher = WebhookDispatcher(client, RedisKeys("tdown"), fast_settings())
    began = time.monotonic()
    await dispatcher.start()
    await asyncio.sleep(0.3)
    await asyncio.wait_for(dispatcher.stop(), 10)
    assert time.monotonic() - began < 10
    await client.aclose()


async def test_a_receivers_text_is_never_stored(redis, receiver, store, dispatchers):
    receiver.behaviour["chatty"] = Behaviour(always=502, body=b"-ERR unknown command 'POST', redis_version:7.2.4")
    sub = await store.create(receiver.url("chatty"), "json", WebhookFilter())
    await dispatchers(fast_settings(max_attempts=1))
    await publish(redis, alert())
    stats = await await_until(lambda: _stats_when(store, sub.id, dead_letters=1), timeout=10, what="dead letter")
    assert stats["last_error"] == "HTTP 502" and stats["last_status"] == 502
    client, keys = redis

    stored = b"".join(
        v for _, fields in await client.xrange(keys.webhook_dead_letters(sub.id)) for v in fields.values()
    )
    assert b"redis_version" not in stored and b"HTTP 502" in stored


@pytest.mark.parametrize("raw", ["²".encode("latin-1"), "٣".encode(), "1²".encode()])
async def test_retry_after_with_non_ascii_digits_still_ends_after_max_attempts(
    redis, receiver, store, dispatchers, raw
):
    # "²".isdigit() is true: such a header used to crash the attempt, and the job came back forever.
    receiver.behaviour["odd"] = Behaviour(always=503, raw_headers=[(b"retry-after", raw)])
    sub = await store.create(receiver.url("odd"), "json", WebhookFilter())
    await dispatchers(fast_settings(max_attempts=3, backoff_base=0.05), rand=lambda: 0.0)
    await publish(redis, alert())
    stats = await await_until(lambda: _stats_when(store, sub.id, dead_letters=1), timeout=10, what="dead letter")
    assert stats["failed_attempts"] == 3 and stats["last_error"] == "HTTP 503"
    await settled(redis)
    assert len(receiver.at("odd")) == 3


def dns(table: dict[str, str]):
    """A resolver answering from ``table`` (name -> address), failing for other names."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("unknown name")
        return [table[host]]

    return resolve


async def test_a_name_resolving_to_loopback_is_refused_at_delivery(redis, receiver, store, dispatchers):
    # Stored directly, as if created while the name still resolved to a public address.
    sub = await store.create(f"http://localhost:{receiver.port}/hook/inside", "json", WebhookFilter())
    await dispatchers(fast_settings(allow_nets=None, max_attempts=2, backoff_base=0.05))
    await publish(redis, alert())
    stats = await await_until(lambda: _stats_when(store, sub.id, dead_letters=1), timeout=10, what="dead letter")
    assert stats["last_error"] == "address not allowed" and stats["failed_attempts"] == 2
    assert receiver.at("inside") == []


async def test_dns_rebinding_gains_nothing(redis, receiver, store, dispatchers):
    from services.review.webhooks.guard import check_url

    url = f"http://rebind.example:{receiver.port}/hook/rebound"
    await check_url(url, (), dns({"rebind.example": "93.184.215.14"}))  # public when subscribed ...
    sub = await store.create(url, "json", WebhookFilter())
    # ... loopback when delivered; only a different network is admitted.
    await dispatchers(
        fast_settings(allow_nets="10.9.0.0/16", max_attempts=1), resolver=dns({"rebind.example": "127.0.0.1"})
    )
    await publish(redis, alert())
    stats = await await_until(lambda: _stats_when(store, sub.id, dead_letters=1), timeout=10, what="dead letter")
    assert stats["last_error"] == "address not allowed"
    assert receiver.at("rebound") == []


async def test_delivery_connects_to_the_checked_address_keeping_the_host_header(redis, receiver, store, dispatchers):
    sub = await store.create(f"http://receiver.test:{receiver.port}/hook/named", "json", WebhookFilter())
    await dispatchers(resolver=dns({"receiver.test": "127.0.0.1"}))
    await publish(redis, alert())
    got = (await await_until(lambda: _async(receiver.at("named")), timeout=10, what="delivery"))[0]
    assert got.headers["host"] == f"receiver.test:{receiver.port}"
    await await_until(lambda: _stats_when(store, sub.id, delivered=1), timeout=5, what="stats")
