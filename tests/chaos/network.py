"""Scenario 4: network faults between the services and Kafka and Redis, through toxiproxy.

The broker and Redis sit behind toxiproxy (deploy/toxiproxy.sh): the broker advertises the
proxy's address (PR_KAFKA_ADVERTISED), so every connection of every service to Kafka, not only
the bootstrap one, and every connection to Redis crosses a proxy the harness can break:

- ``latency``: 500 ms added to everything the broker and Redis send back;
- ``reset``: every connection is reset (TCP RST) 2 s after it carries data, again and again;
- ``partition``: the proxies disabled, so connections are closed and new ones refused;
- ``blackhole``: nothing gets through and nothing is closed (toxiproxy's ``timeout`` toxic with
  no timeout), as when a link silently drops packets: only the clients' own timeouts help.

On top of the harness's rules (lost = 0, alerts exactly once, healed by itself) it checks the
alert channels a client sees: an SSE and a WebSocket follower that reconnect with their last
cursor whenever they are cut (they reach review through a proxy of their own, which every fault
hits as well, so a partition really cuts them off), and a webhook receiver on loopback. Each must end with every
acknowledged discount exactly once. While Redis is cut, review must answer 503 within its
Redis timeout (PR_REDIS_TIMEOUT), whether the connection is refused or silently dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from tests.chaos.harness import (
    Figures,
    Infra,
    LoadGenerator,
    Stack,
    accepted_since,
    feed_alert_deals,
    visible_deals,
)
from tests.integration.webhooks.conftest import Receiver

FAULTS = ("latency", "reset", "partition", "blackhole")
REDIS_CUT = ("partition", "blackhole")  # faults during which review is probed for its 503


class Toxiproxy:
    """The few calls of toxiproxy's HTTP API the scenario needs."""

    def __init__(self, port: int):
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def _ok(self, answer: httpx.Response) -> dict:
        if answer.status_code >= 300:
            raise AssertionError(
                f"toxiproxy {answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text}"
            )
        return answer.json() if answer.content else {}

    def create(self, name: str, listen_port: int, upstream_port: int) -> None:
        self._ok(
            self.api.post(
                "/proxies",
                json={
                    "name": name,
                    "listen": f"127.0.0.1:{listen_port}",
                    "upstream": f"127.0.0.1:{upstream_port}",
                    "enabled": True,
                },
            )
        )

    def add_toxic(self, proxy: str, name: str, kind: str, attributes: dict, stream: str = "downstream") -> None:
        self._ok(
            self.api.post(
                f"/proxies/{proxy}/toxics",
                json={"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes},
            )
        )

    def delete(self, proxy: str) -> None:
        self._ok(self.api.delete(f"/proxies/{proxy}"))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._ok(self.api.delete(f"/proxies/{proxy}/toxics/{name}"))

    def enable(self, proxy: str, enabled: bool) -> None:
        self._ok(self.api.post(f"/proxies/{proxy}", json={"enabled": enabled}))

    def proxies(self) -> dict:
        return self._ok(self.api.get("/proxies"))


@dataclass(frozen=True)
class ProxiedInfra(Infra):
    """The harness's own Kafka and Redis, reached only through toxiproxy proxies."""

    toxiproxy_port: int = 28474
    kafka_proxy_port: int = 28500
    redis_proxy_port: int = 28501
    client_proxy_port: int = 28502  # the stream clients' way to review

    @classmethod
    def from_env(cls) -> ProxiedInfra:
        base = Infra.from_env()
        return cls(
            base.state_dir,
            base.kafka_port,
            base.controller_port,
            base.redis_port,
            toxiproxy_port=int(os.environ.get("PR_CHAOS_TOXIPROXY_PORT", "28474")),
            kafka_proxy_port=int(os.environ.get("PR_CHAOS_KAFKA_PROXY_PORT", "28500")),
            redis_proxy_port=int(os.environ.get("PR_CHAOS_REDIS_PROXY_PORT", "28501")),
            client_proxy_port=int(os.environ.get("PR_CHAOS_CLIENT_PROXY_PORT", "28502")),
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_proxy_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_proxy_port}/0"

    @property
    def toxiproxy(self) -> Toxiproxy:
        return Toxiproxy(self.toxiproxy_port)

    def _env(self) -> dict[str, str]:
        return super()._env() | {"PR_KAFKA_ADVERTISED": self.bootstrap, "PR_TOXIPROXY_PORT": str(self.toxiproxy_port)}

    def start_fresh(self) -> None:
        """Infra.start_fresh (which stops what an earlier run left, toxiproxy included), then the proxies."""
        super().start_fresh()
        self._script("toxiproxy.sh", "start")
        toxi = self.toxiproxy
        toxi.create("kafka", self.kafka_proxy_port, self.kafka_port)
        toxi.create("redis", self.redis_proxy_port, self.redis_port)

    def stop(self) -> None:
        super().stop()
        self._script("toxiproxy.sh", "stop")


class Fault:
    """One fault on every proxy (Kafka, Redis, the stream clients' way to review), applied and repaired."""

    def __init__(self, toxi: Toxiproxy, kind: str, proxies: tuple[str, ...] = ("kafka", "redis", "clients")):
        if kind not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}, not {kind!r}")
        self.toxi, self.kind, self.proxies = toxi, kind, proxies

    def apply(self) -> None:
        for proxy in self.proxies:
            if self.kind == "latency":
                self.toxi.add_toxic(proxy, "chaos", "latency", {"latency": 500, "jitter": 0})
            elif self.kind == "reset":
                self.toxi.add_toxic(proxy, "chaos", "reset_peer", {"timeout": 2000})
            elif self.kind == "blackhole":
                # Both ways: requests never arrive, answers never come back, the socket stays open.
                self.toxi.add_toxic(proxy, "chaos", "timeout", {"timeout": 0}, stream="upstream")
                self.toxi.add_toxic(proxy, "chaos-down", "timeout", {"timeout": 0}, stream="downstream")
            else:
                self.toxi.enable(proxy, False)

    def repair(self) -> None:
        for proxy in self.proxies:
            if self.kind == "blackhole":
                self.toxi.remove_toxic(proxy, "chaos-down")
            if self.kind == "partition":
                self.toxi.enable(proxy, True)
            else:
                self.toxi.remove_toxic(proxy, "chaos")


class SseFollower:
    """A client of /v1/alerts/stream that reconnects with Last-Event-ID whenever it is cut."""

    def __init__(self, review_url: str):
        self.url = f"{review_url}/v1/alerts/stream"
        self.last_id = "0"  # a fresh stack's feed is empty: from the very start
        self.deals: Counter = Counter()
        self.connects = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        timeout = httpx.Timeout(10.0, read=10.0)  # review sends a heartbeat every 2 s in this scenario
        async with httpx.AsyncClient(timeout=timeout) as client:
            while not self._stop.is_set():
                try:
                    async with client.stream(
                        "GET", self.url, params={"kind": "late_stage_discount"}, headers={"Last-Event-ID": self.last_id}
                    ) as answer:
                        if answer.status_code != 200:
                            await asyncio.sleep(0.5)
                            continue
                        self.connects += 1
                        event_id, data = None, None
                        async for line in answer.aiter_lines():
                            if line.startswith("id:"):
                                event_id = line[3:].strip()
                            elif line.startswith("data:"):
                                data = line[5:].strip()
                            elif line == "" and data is not None:
                                self.deals[json.loads(data)["deal_id"]] += 1
                                self.last_id = event_id or self.last_id
                                event_id, data = None, None
                            if self._stop.is_set():
                                return
                except (httpx.HTTPError, json.JSONDecodeError):
                    pass
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()


class WsFollower:
    """A client of /v1/alerts/ws that reconnects with ?cursor= whenever it is closed."""

    def __init__(self, review_url: str):
        self.url = review_url.replace("http://", "ws://") + "/v1/alerts/ws"
        self.cursor = "0"
        self.deals: Counter = Counter()
        self.connects = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                async with websockets.connect(
                    f"{self.url}?kind=late_stage_discount&cursor={self.cursor}",
                    open_timeout=10,
                    ping_interval=5,
                    ping_timeout=10,
                ) as ws:
                    self.connects += 1
                    while not self._stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 1.0)
                        except TimeoutError:
                            continue
                        message = json.loads(raw)
                        if message.get("type") == "alert":
                            self.deals[message["alert"]["deal_id"]] += 1
                            self.cursor = message["cursor"]
            except (OSError, websockets.WebSocketException, json.JSONDecodeError, TimeoutError):
                pass
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()


def review_env() -> dict[str, str]:
    """review's settings for this scenario: webhooks to loopback, retries that outlast a 30 s partition."""
    return {
        "PR_REVIEW_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
        "PR_REVIEW_WEBHOOK_BACKOFF_BASE": "0.5",
        "PR_REVIEW_WEBHOOK_BACKOFF_MAX": "5",
        "PR_REVIEW_WEBHOOK_MAX_ATTEMPTS": "50",
        "PR_REVIEW_WEBHOOK_POLL_INTERVAL": "0.5",
        "PR_REVIEW_STREAM_HEARTBEAT": "2",
    }


def network_stack(infra: ProxiedInfra, log_dir: Path) -> Stack:
    stack = Stack(infra, log_dir)
    review = next(s for s in stack.services if s.name == "review")
    review.env = review.env | review_env()
    return stack


@dataclass
class Probe:
    path: str
    status: int | None
    seconds: float


async def probe_review(review_url: str, deal_id: str, until: float, probes: list[Probe]) -> None:
    """Ask review for a card and the feed every 0.5 s while Redis is cut; record status and time."""
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < until:
            for path in (f"/v1/deals/{deal_id}", "/v1/alerts"):
                sent = time.monotonic()
                try:
                    status = (await client.get(f"{review_url}{path}")).status_code
                except httpx.HTTPError:
                    status = None
                probes.append(Probe(path, status, time.monotonic() - sent))
            await asyncio.sleep(0.5)


@dataclass
class NetworkFigures(Figures):
    """The harness's figures, and what the alert channels and review under a Redis cut showed."""

    faults: list[str] = field(default_factory=list)
    review_probes_while_redis_cut: int = 0
    review_non_503_while_redis_cut: int = 0
    review_slowest_while_redis_cut_s: float = 0.0
    sse_missing: int = 0
    sse_duplicates: int = 0
    sse_connects: int = 0
    ws_missing: int = 0
    ws_duplicates: int = 0
    ws_connects: int = 0
    webhook_missing: int = 0
    webhook_duplicates: int = 0
    webhook_requests: int = 0


def channel_gaps(expected: set[str], seen: Counter) -> tuple[int, int]:
    """(missing, duplicates) of one channel: acknowledged discounts it never showed, and any alert it showed twice.

    Duplicates count every deal, also a discount answered 503 that Kafka stored after all.
    """
    return sum(1 for d in expected if seen[d] == 0), sum(n - 1 for n in seen.values() if n > 1)


async def network_fault_scenario(
    infra: ProxiedInfra,
    stack: Stack,
    *,
    faults: list[tuple[str, float]],
    warmup: float,
    between: float,
    load_after: float,
    rate: float,
    heal_timeout: float,
    results: Path,
) -> NetworkFigures:
    """Apply each ``(fault, seconds)`` in turn to both proxies under load, with ``between`` s of calm after each."""
    toxi = infra.toxiproxy
    review_url = stack.url("review")
    toxi.create("clients", infra.client_proxy_port, stack.ports["review"])
    clients_url = f"http://127.0.0.1:{infra.client_proxy_port}"
    receiver = await Receiver().start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            created = await client.post(
                f"{review_url}/v1/webhooks",
                json={"url": receiver.url("chaos"), "filter": {"kinds": ["late_stage_discount"]}},
            )
            assert created.status_code == 201, created.text
        sse, ws = SseFollower(clients_url), WsFollower(clients_url)
        followers = [asyncio.create_task(sse.run()), asyncio.create_task(ws.run())]
        run_tag = f"net{uuid.uuid4().hex[:6]}"
        load = LoadGenerator(stack.url("ingest"), rate, run_tag)
        pids_before = stack.pids()
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        load_task = asyncio.create_task(load.run())
        t0 = time.monotonic()
        await asyncio.sleep(warmup)
        rss_before = stack.rss_mb("ingest")
        probes: list[Probe] = []
        first_fault_at = time.monotonic()
        fault_seconds = 0.0
        repaired_at = first_fault_at
        for kind, seconds in faults:
            fault = Fault(toxi, kind)
            await asyncio.to_thread(fault.apply)
            applied = time.monotonic()
            if kind in REDIS_CUT:
                some_deal = next(iter(load.record.acknowledged("created")), f"api:{run_tag}-000000")
                await asyncio.sleep(1)  # requests already in flight when the fault began are not what is probed
                await probe_review(review_url, some_deal, applied + seconds, probes)
            else:
                await asyncio.sleep(seconds)
            await asyncio.to_thread(fault.repair)
            repaired_at = time.monotonic()
            fault_seconds += repaired_at - applied
            await asyncio.sleep(between)
        await accepted_since(load, repaired_at, heal_timeout)
        await asyncio.sleep(load_after)
        load.stop()
        await load_task
        load_seconds = time.monotonic() - t0

        created_ok = load.record.acknowledged("created")
        discounts = load.record.acknowledged("discount")
        deals = created_ok | discounts
        receiver_deals: Counter = Counter()
        visible: set = set()
        alerts: Counter = Counter()
        healed = None
        deadline = time.monotonic() + heal_timeout
        while True:
            visible |= await visible_deals(review_url, deals - visible)
            alerts = await feed_alert_deals(review_url)
            receiver_deals = Counter(r.json()["alert"]["deal_id"] for r in receiver.at("chaos"))
            everywhere = all(alerts[d] and sse.deals[d] and ws.deals[d] and receiver_deals[d] for d in discounts)
            if visible >= deals and everywhere:
                healed = time.monotonic() - repaired_at
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(2)  # a duplicate sent just after catching up still counts
        receiver_deals = Counter(r.json()["alert"]["deal_id"] for r in receiver.at("chaos"))
        sse.stop()
        ws.stop()
        await asyncio.gather(*followers)
    finally:
        await receiver.stop()
        toxi.delete("clients")

    ours = {d: n for d, n in alerts.items() if d.startswith(f"api:{run_tag}-")}
    posted = load.record.posted
    lost_events = sorted(created_ok - visible) + sorted(d for d in discounts if ours.get(d, 0) == 0)
    acknowledged = len(created_ok) + len(discounts)
    sse_missing, sse_dups = channel_gaps(discounts, sse.deals)
    ws_missing, ws_dups = channel_gaps(discounts, ws.deals)
    hook_missing, hook_dups = channel_gaps(discounts, receiver_deals)
    feed_dups = sum(n - 1 for n in ours.values() if n > 1)
    figures = NetworkFigures(
        scenario="network faults via toxiproxy: " + ", ".join(f"{k} {s:g} s" for k, s in faults),
        started_at=started_at,
        load_deals_per_s=rate,
        load_seconds=round(load_seconds, 1),
        fault_seconds=round(fault_seconds, 1),
        requests=len(posted),
        acknowledged=acknowledged,
        acknowledged_discounts=len(discounts),
        answered_503=sum(1 for p in posted if p.status == 503),
        answered_503_without_retry_after=sum(1 for p in posted if p.status == 503 and not p.retry_after),
        unanswered=sum(1 for p in posted if p.status is None),
        slowest_answer_s=round(max((p.seconds for p in posted), default=0.0), 2),
        visible=acknowledged - len(lost_events),
        lost=len(lost_events),
        alerts_missing=sum(1 for d in discounts if ours.get(d, 0) == 0),
        # An alert doubled on any channel (feed, SSE, WebSocket, webhook) is a duplicate to its reader.
        duplicate_alerts=feed_dups + sse_dups + ws_dups + hook_dups,
        time_to_accept_again_s=None,
        # Healed means every acknowledged effect reached the cards, the feed and every alert channel.
        time_to_heal_s=round(healed, 1) if healed is not None else None,
        services_died=sorted(set(stack.dead()) | {n for n, pid in stack.pids().items() if pid != pids_before[n]}),
        lost_examples=lost_events[:5],
        error_examples=sorted({p.detail for p in posted if p.detail})[:5],
        ingest_rss_mb_before=round(rss_before, 1) if rss_before else None,
        faults=[k for k, _ in faults],
        review_probes_while_redis_cut=len(probes),
        review_non_503_while_redis_cut=sum(1 for p in probes if p.status != 503),
        review_slowest_while_redis_cut_s=round(max((p.seconds for p in probes), default=0.0), 2),
        sse_missing=sse_missing,
        sse_duplicates=sse_dups,
        sse_connects=sse.connects,
        ws_missing=ws_missing,
        ws_duplicates=ws_dups,
        ws_connects=ws.connects,
        webhook_missing=hook_missing,
        webhook_duplicates=hook_dups,
        webhook_requests=len(receiver.at("chaos")),
    )
    accepted = [
        sent + seconds
        for sent, _k, status, seconds in load.timeline
        if sent > repaired_at and status is not None and 200 <= status < 300
    ]
    figures.time_to_accept_again_s = round(min(accepted) - repaired_at, 1) if accepted else None
    figures.write(results)
    return figures
