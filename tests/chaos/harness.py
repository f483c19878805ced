"""The fault harness: its own Kafka and Redis (which it may kill), the services, a steady load, the checks.

Every scenario follows the same shape: start a private broker and Redis, run ingest, scoring
and review against them as processes, post uniquely identifiable events at a steady rate,
break something, repair it the way an operator would (restart the broker, never a service),
and then check the rules of issue 13:

- every event answered 2xx is on its deal card (lost = 0);
- every late-stage discount answered 2xx is in the alert feed exactly once;
- the system healed by itself: every service process still runs, ingest accepts again and
  everything acknowledged became visible within the heal timeout;
- the figures are recorded as one JSON line per run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from kafka import KafkaAdminClient

from services.shared.settings import CommonSettings
from testkit.processes import BIN, Service, free_port, scoring_env
from tests.conftest import settings_env

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@dataclass(frozen=True)
class Infra:
    """A Kafka (one node, or a cluster of ``nodes``) and a Redis of the harness's own, on their own ports and state directory."""

    state_dir: Path
    kafka_port: int
    controller_port: int
    redis_port: int
    nodes: int = 1

    @classmethod
    def from_env(cls) -> Infra:
        return cls(
            state_dir=Path(os.environ.get("PR_CHAOS_STATE_DIR", str(ROOT / ".run" / "chaos"))),
            kafka_port=int(os.environ.get("PR_CHAOS_KAFKA_PORT", "28092")),
            controller_port=int(os.environ.get("PR_CHAOS_KAFKA_CONTROLLER_PORT", "28093")),
            redis_port=int(os.environ.get("PR_CHAOS_REDIS_PORT", "28379")),
        )

    @classmethod
    def cluster_from_env(cls) -> Infra:
        """Three KRaft nodes (PR_CHAOS_CLUSTER_* ports and state) and the fault suite's Redis port."""
        return cls(
            state_dir=Path(os.environ.get("PR_CHAOS_CLUSTER_STATE_DIR", str(ROOT / ".run" / "chaos-cluster"))),
            kafka_port=int(os.environ.get("PR_CHAOS_CLUSTER_KAFKA_PORT", "28192")),
            controller_port=int(os.environ.get("PR_CHAOS_CLUSTER_CONTROLLER_PORT", "28292")),
            redis_port=int(os.environ.get("PR_CHAOS_REDIS_PORT", "28379")),
            nodes=3,
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + i}" for i in range(self.nodes))

    @property
    def replication(self) -> dict[str, int]:
        """The topic settings that fit this Kafka: on three nodes, 3 replicas of which 2 must be in sync."""
        replicas = min(self.nodes, 3)
        return {"topic_replication_factor": replicas, "topic_min_insync_replicas": 2 if replicas >= 3 else 1}

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PR_STATE_DIR": str(self.state_dir),
            "PR_KAFKA_PORT": str(self.kafka_port),
            "PR_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PR_REDIS_PORT": str(self.redis_port),
            "PR_KAFKA_NODES": str(self.nodes),
        }
        if self.nodes > 1:
            # Three JVMs share the machine with the services: a smaller heap each, and a longer wait
            # for a restarted node, which recovers every replica's log (over 90 s on a loaded machine).
            env.setdefault("PR_KAFKA_HEAP", "-Xms128m -Xmx512m")
            env.setdefault("PR_KAFKA_START_TIMEOUT", "170")
        return env

    def _script(self, name: str, action: str) -> None:
        done = subprocess.run(
            [str(DEPLOY / name), action], env=self._env(), capture_output=True, text=True, timeout=180
        )
        if done.returncode != 0:
            raise AssertionError(f"deploy/{name} {action} failed:\n{done.stdout}\n{done.stderr}")

    def start_fresh(self) -> None:
        """Stop what an earlier run left, wipe its data, start a broker and a Redis."""
        self.stop()
        subprocess.run(["rm", "-rf", str(self.state_dir / "kafka"), str(self.state_dir / "redis")], check=True)
        self.start_kafka()
        self._script("redis.sh", "start")

    def start_kafka(self) -> None:
        self._script("kafka.sh", "start")

    def kill_kafka(self) -> None:
        """kill -9 the broker: no clean shutdown, as a crashed machine would."""
        pid_file = self.state_dir / "kafka" / "kafka.pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"broker pid {pid} survived SIGKILL")

    def redis_pid(self) -> int:
        return int((self.state_dir / "redis" / "redis.pid").read_text())

    def kill_redis(self) -> None:
        """kill -9 Redis: no shutdown, no final write of its append-only file."""
        pid = self.redis_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"redis pid {pid} survived SIGKILL")

    def start_redis(self) -> None:
        """What the operator does: deploy/redis.sh start (it loads the append-only file)."""
        self._script("redis.sh", "start")

    def flush_redis(self) -> None:
        """FLUSHALL: every key of every prefix gone, the server (and its run id) the same."""
        import redis

        with redis.Redis.from_url(self.redis_url, socket_timeout=10) as client:
            client.flushall()

    def kafka_pid(self) -> int:
        return int((self.state_dir / "kafka" / "kafka.pid").read_text())

    def kill_node(self, node_id: int) -> None:
        """kill -9 one node of the cluster (its KRaft node id, 1..nodes)."""
        pid = int((self.state_dir / "kafka" / f"node{node_id}" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                # Killed but not yet reaped by its parent (a zombie) is gone as far as Kafka is concerned.
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    return
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.05)
        raise AssertionError(f"broker {node_id} (pid {pid}) survived SIGKILL")

    def partitions(self, topic: str) -> dict[int, tuple[int, list[int]]]:
        """partition -> (node id of its leader, node ids of its in-sync replicas), as the cluster's metadata says now."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="pr-chaos", request_timeout_ms=10_000)
        try:
            (described,) = admin.describe_topics([topic])
            return {p["partition_index"]: (p["leader_id"], sorted(p["isr_nodes"])) for p in described["partitions"]}
        finally:
            admin.close()

    def partition_leaders(self, topic: str) -> dict[int, int]:
        """partition -> node id of its leader."""
        return {partition: leader for partition, (leader, _isr) in self.partitions(topic).items()}

    def busiest_leader(self, topic: str) -> int:
        """The node leading most of ``topic``'s partitions (the lowest id on a tie)."""
        counts = Counter(self.partition_leaders(topic).values())
        return min(counts, key=lambda node: (-counts[node], node))

    def stop(self) -> None:
        self._script("kafka.sh", "stop")
        self._script("redis.sh", "stop")


class Stack:
    """ingest, scoring and review as processes against ``infra``, on free ports."""

    def __init__(
        self,
        infra: Infra,
        log_dir: Path,
        ingest_timeout: float = 3.0,
        service_env: dict[str, dict[str, str]] | None = None,
    ):
        """``service_env`` adds environment variables per service name (for example ingest's rate limit)."""
        extra = service_env or {}
        tag = uuid.uuid4().hex[:8]
        self.settings = CommonSettings(
            kafka_bootstrap=infra.bootstrap,
            redis_url=infra.redis_url,
            topic_prefix=f"chaos{tag}-",
            redis_prefix=f"chaos{tag}",
            **infra.replication,
        )
        self.ingest_timeout = ingest_timeout
        env = settings_env(self.settings)
        self.app_id = f"pr-chaos-{tag}"
        self.env = env
        self.log_dir = log_dir
        self.ports = {name: free_port() for name in ("ingest", "review", "scoring")}
        log_dir.mkdir(parents=True, exist_ok=True)
        self.services = [
            Service(
                "scoring",
                env
                | scoring_env(f"pr-chaos-{tag}", self.ports["scoring"], log_dir / "scoring-data")
                | extra.get("scoring", {}),
                self.url("scoring", "/readyz"),
                log_dir,
            ),
            Service(
                "ingest",
                env
                | {"PR_INGEST_PORT": str(self.ports["ingest"]), "PR_INGEST_KAFKA_TIMEOUT": str(ingest_timeout)}
                | extra.get("ingest", {}),
                self.url("ingest", "/readyz"),
                log_dir,
            ),
            Service(
                "review",
                env | {"PR_REVIEW_PORT": str(self.ports["review"])} | extra.get("review", {}),
                self.url("review", "/readyz"),
                log_dir,
            ),
        ]

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def start(self) -> None:
        from services.admin.topics import ensure_topics

        ensure_topics(self.settings)
        for service in self.services:
            service.start(timeout=120)

    def pids(self) -> dict[str, int | None]:
        return {s.name: s.process.pid if s.process else None for s in self.services}

    def rss_mb(self, name: str) -> float | None:
        """Resident memory of a service process (MB), from /proc."""
        service = next(s for s in self.services if s.name == name)
        try:
            for line in Path(f"/proc/{service.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except (OSError, AttributeError):
            pass
        return None

    def dead(self) -> dict[str, str]:
        """Services that exited, with the end of their logs."""
        return {s.name: s.tail(30) for s in self.services if s.process is None or s.process.poll() is not None}

    def stop(self) -> None:
        for service in self.services:
            service.stop()


def api_headers() -> dict[str, str]:
    """An ingest key when the environment gives one (ingest may require keys), none in open mode."""
    key = os.environ.get("PR_CHAOS_INGEST_API_KEY")
    return {"X-API-Key": key} if key else {}


@dataclass
class Posted:
    kind: str  # "created" or "discount"
    deal_id: str
    status: int | None  # None: no answer (connection error or client timeout)
    seconds: float
    retry_after: str | None = None
    detail: str = ""  # what a non-2xx answer (or the failed connection) said


@dataclass
class LoadRecord:
    """Every request the load generator made, and what came back."""

    posted: list[Posted] = field(default_factory=list)

    def acknowledged(self, kind: str) -> set[str]:
        return {p.deal_id for p in self.posted if p.kind == kind and p.status is not None and 200 <= p.status < 300}


class LoadGenerator:
    """Posts one new late-stage deal per tick and, for every fifth deal ingest acknowledged, a discount.

    Every event is identifiable by its run tag; a discount is posted only for a deal whose
    creation was acknowledged, so each acknowledged discount must raise exactly one alert.
    """

    def __init__(self, ingest_url: str, rate: float, run_tag: str, client_timeout: float = 30.0):
        self.ingest_url = ingest_url
        self.rate = rate
        self.run_tag = run_tag
        self.client_timeout = client_timeout
        self.record = LoadRecord()
        self.timeline: list[tuple[float, str, int | None, float]] = []  # (sent at, kind, status, seconds)
        self._stop = asyncio.Event()
        self._count = 0

    def event(self, deal_id: str, kind: str, minutes: int, **changes) -> dict:
        at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2) + dt.timedelta(minutes=minutes)
        return {
            "event_id": f"{deal_id}-{kind}",
            "source": "api",
            "deal_id": deal_id,
            "occurred_at": at.isoformat(),
            "type": kind,
            "changes": changes,
        }

    async def _post(self, client: httpx.AsyncClient, kind: str, deal_id: str, body: dict) -> int | None:
        sent = time.monotonic()
        detail = ""
        try:
            answer = await client.post(f"{self.ingest_url}/v1/events", json=body, headers=api_headers())
            status, retry_after = answer.status_code, answer.headers.get("retry-after")
            if status >= 300:
                detail = answer.text[:300]
        except httpx.HTTPError as exc:
            status, retry_after, detail = None, None, f"{type(exc).__name__}: {exc}"[:300]
        seconds = time.monotonic() - sent
        self.record.posted.append(Posted(kind, deal_id, status, seconds, retry_after, detail))
        self.timeline.append((sent, kind, status, seconds))
        return status

    async def _one_deal(self, client: httpx.AsyncClient, number: int) -> None:
        deal_id = f"api:{self.run_tag}-{number:06}"
        created = self.event(
            deal_id,
            "deal.created",
            0,
            name=f"Chaos {number}",
            account=f"Acct {number % 17}",
            owner_id=f"u{number % 5}",
            team=["East", "West"][number % 2],
            manager_id="m1",
            stage="Negotiation/Review",
            amount=10_000 + number,
            currency="EUR",
            close_date=(dt.date.today() + dt.timedelta(days=10)).isoformat(),
        )
        status = await self._post(client, "created", deal_id, created)
        if number % 5 == 0 and status is not None and 200 <= status < 300:
            discount = self.event(
                deal_id,
                "deal.discount_requested",
                5,
                discount_pct=15,
                discount_reason="chaos",
                requested_by=f"u{number % 5}",
            )
            await self._post(client, "discount", deal_id, discount)

    async def run(self) -> None:
        """Post at ``rate`` deals a second until :meth:`stop`; requests never wait for each other."""
        tasks: set[asyncio.Task] = set()
        # Idle connections are dropped after 2 s, before uvicorn closes them (5 s): reusing one
        # just as the server closes it fails with ReadError, a race of the client, not of ingest.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=self.client_timeout, limits=limits) as client:
            started = time.monotonic()
            while not self._stop.is_set():
                task = asyncio.create_task(self._one_deal(client, self._count))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                self._count += 1
                next_at = started + self._count / self.rate
                try:
                    await asyncio.wait_for(self._stop.wait(), max(next_at - time.monotonic(), 0))
                except TimeoutError:
                    pass
            if tasks:
                await asyncio.gather(*tasks)

    def stop(self) -> None:
        self._stop.set()


async def feed_alert_deals(review_url: str) -> Counter:
    """How many times each deal appears in the alert feed (every page)."""
    seen: Counter = Counter()
    cursor = None
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            params = {"limit": 500, "kind": "late_stage_discount"} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(f"{review_url}/v1/alerts", params=params)).json()
            seen.update(item["deal_id"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return seen


async def visible_deals(review_url: str, deal_ids: set[str]) -> set[str]:
    """The deals among ``deal_ids`` whose card review serves."""
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=20)) as client:
        semaphore = asyncio.Semaphore(20)

        async def card(deal_id: str) -> str | None:
            async with semaphore:
                try:
                    answer = await client.get(f"{review_url}/v1/deals/{deal_id}")
                except httpx.HTTPError:
                    return None
                return deal_id if answer.status_code == 200 else None

        return {d for d in await asyncio.gather(*(card(d) for d in deal_ids)) if d}


@dataclass
class Figures:
    """One run's numbers: the row of docs/reliability.md."""

    scenario: str
    started_at: str
    load_deals_per_s: float
    load_seconds: float
    fault_seconds: float
    requests: int
    acknowledged: int  # events answered 2xx (creations and discounts)
    acknowledged_discounts: int
    answered_503: int
    answered_503_without_retry_after: int
    unanswered: int
    slowest_answer_s: float
    visible: int  # acknowledged events whose effect review shows (deal card, alert)
    lost: int
    alerts_missing: int
    duplicate_alerts: int
    time_to_accept_again_s: float | None
    time_to_heal_s: float | None
    services_died: list[str]
    ingest_rss_mb_before: float | None = None  # just before the fault
    ingest_rss_mb_peak: float | None = None  # highest sample (every 0.5 s) from the fault to the end
    lost_examples: list[str] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    acknowledged_during_fault: int | None = None  # requests sent between the fault and the repair, answered 2xx
    longest_without_2xx_s: float | None = (
        None  # from the fault to the repair: longest stretch with no request acknowledged
    )
    slowest_sent_at_s: float | None = (
        None  # when the slowest request was sent, in seconds after the fault (negative: before)
    )
    notes: str = ""  # what a scenario adds in words (for example the storm's joins and leaves)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(asdict(self)) + "\n")


async def settle(
    stack: Stack, load: LoadGenerator, repaired_at: float, heal_timeout: float
) -> tuple[set, Counter, float | None]:
    """Wait until everything acknowledged is visible and every acknowledged discount alerted once."""
    deals = load.record.acknowledged("created") | load.record.acknowledged("discount")
    discounts = load.record.acknowledged("discount")
    deadline = time.monotonic() + heal_timeout
    visible: set = set()
    alerts: Counter = Counter()
    while True:
        visible |= await visible_deals(stack.url("review"), deals - visible)
        alerts = await feed_alert_deals(stack.url("review"))
        if visible >= deals and all(alerts[d] >= 1 for d in discounts):
            return visible, alerts, time.monotonic() - repaired_at
        if time.monotonic() > deadline:
            return visible, alerts, None
        await asyncio.sleep(1.0)


async def accepted_since(load: LoadGenerator, since: float, timeout: float) -> None:
    """Wait until ingest acknowledged a request sent after ``since`` (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(sent > since and status is not None and 200 <= status < 300 for sent, _k, status, _s in load.timeline):
            return
        await asyncio.sleep(0.2)


async def sample_rss(stack: Stack, name: str, samples: list[float]) -> None:
    """Append ``name``'s resident memory (MB) to ``samples`` every 0.5 s until cancelled."""
    while True:
        value = stack.rss_mb(name)
        if value is not None:
            samples.append(value)
        await asyncio.sleep(0.5)


def longest_without_2xx(load: LoadGenerator, since: float, until: float) -> float:
    """The longest stretch between ``since`` and ``until`` in which no request sent was answered 2xx."""
    sent_ok = sorted(
        sent
        for sent, _k, status, _s in load.timeline
        if since <= sent <= until and status is not None and 200 <= status < 300
    )
    edges = [since, *sent_ok, until]
    return max(b - a for a, b in itertools.pairwise(edges))


def outcome(
    stack: Stack,
    load: LoadGenerator,
    run_tag: str,
    *,
    visible: set,
    alerts: Counter,
    healed: float | None,
    pids_before: dict[str, int | None],
) -> dict:
    """The fields of :class:`Figures` every scenario computes the same way, once its load has settled.

    An acknowledged creation counts as visible when its deal card is, an acknowledged discount
    when its alert is in the feed; a service died when it is gone or its process changed.
    """
    created = load.record.acknowledged("created")
    discounts = load.record.acknowledged("discount")
    ours = {d: n for d, n in alerts.items() if d.startswith(f"api:{run_tag}-")}
    posted = load.record.posted
    lost_events = sorted(created - visible) + sorted(d for d in discounts if ours.get(d, 0) == 0)
    acknowledged = len(created) + len(discounts)
    return dict(
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
        duplicate_alerts=sum(n - 1 for n in ours.values() if n > 1),
        time_to_heal_s=round(healed, 1) if healed is not None else None,
        services_died=sorted(set(stack.dead()) | {n for n, pid in stack.pids().items() if pid != pids_before[n]}),
        lost_examples=lost_events[:5],
        error_examples=sorted({p.detail for p in posted if p.detail})[:5],
    )


def measure(
    scenario: str,
    stack: Stack,
    load: LoadGenerator,
    run_tag: str,
    *,
    started_at: str,
    load_seconds: float,
    killed_at: float,
    repaired_at: float,
    settled: tuple[set, Counter, float | None],
    pids_before: dict[str, int | None],
    rss_before: float | None,
    rss_samples: list[float],
) -> Figures:
    """The figures of one run, from what the load generator saw and what review shows after :func:`settle`."""
    visible, alerts, healed = settled
    # Requests sent after the fault can only be acknowledged by a broker that has the partition.
    accepted_again = [
        sent + seconds
        for sent, _kind, status, seconds in load.timeline
        if sent > killed_at and status is not None and 200 <= status < 300
    ]
    return Figures(
        scenario=scenario,
        started_at=started_at,
        load_deals_per_s=load.rate,
        load_seconds=round(load_seconds, 1),
        fault_seconds=round(repaired_at - killed_at, 1),
        time_to_accept_again_s=round(min(accepted_again) - repaired_at, 1) if accepted_again else None,
        ingest_rss_mb_before=round(rss_before, 1) if rss_before else None,
        ingest_rss_mb_peak=round(max(rss_samples), 1) if rss_samples else None,
        acknowledged_during_fault=sum(
            1
            for sent, _k, status, _s in load.timeline
            if killed_at <= sent <= repaired_at and status is not None and 200 <= status < 300
        ),
        longest_without_2xx_s=round(longest_without_2xx(load, killed_at, repaired_at), 1),
        slowest_sent_at_s=round(max(load.timeline, key=lambda t: t[3])[0] - killed_at, 1) if load.timeline else None,
        **outcome(stack, load, run_tag, visible=visible, alerts=alerts, healed=healed, pids_before=pids_before),
    )


async def broker_kill_scenario(
    infra: Infra,
    stack: Stack,
    *,
    load_before: float,
    down_for: float,
    load_after: float,
    rate: float,
    heal_timeout: float,
    results: Path,
) -> Figures:
    """Scenario 1: kill -9 the broker under load, restart it ``down_for`` seconds later.

    The load goes on until ingest accepts again after the restart (at most ``heal_timeout``),
    then for ``load_after`` seconds more.
    """
    run_tag = f"brk{uuid.uuid4().hex[:6]}"
    load = LoadGenerator(stack.url("ingest"), rate, run_tag)
    pids_before = stack.pids()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_task = asyncio.create_task(load.run())
    t0 = time.monotonic()
    await asyncio.sleep(load_before)
    rss_before = stack.rss_mb("ingest")
    samples: list[float] = []
    sampler = asyncio.create_task(sample_rss(stack, "ingest", samples))
    await asyncio.to_thread(infra.kill_kafka)
    killed_at = time.monotonic()
    await asyncio.sleep(down_for)
    await asyncio.to_thread(infra.start_kafka)  # what the operator did: deploy/kafka.sh start
    repaired_at = time.monotonic()
    await accepted_since(load, killed_at, heal_timeout)
    await asyncio.sleep(load_after)
    load.stop()
    await load_task
    load_seconds = time.monotonic() - t0
    settled = await settle(stack, load, repaired_at, heal_timeout)
    sampler.cancel()
    figures = measure(
        "broker kill -9 and restart (single node)",
        stack,
        load,
        run_tag,
        started_at=started_at,
        load_seconds=load_seconds,
        killed_at=killed_at,
        repaired_at=repaired_at,
        settled=settled,
        pids_before=pids_before,
        rss_before=rss_before,
        rss_samples=samples,
    )
    figures.write(results)
    return figures


def results_path() -> Path:
    return Path(os.environ.get("PR_CHAOS_RESULTS", str(ROOT / ".run" / "chaos" / "results.jsonl")))


def figures_of(
    scenario: str,
    stack: Stack,
    load: LoadGenerator,
    run_tag: str,
    *,
    started_at: str,
    rate: float,
    load_seconds: float,
    fault_started: float,
    fault_ended: float,
    repaired_at: float,
    visible: set,
    alerts: Counter,
    healed: float | None,
    pids_before: dict,
    notes: str = "",
) -> Figures:
    """The figures of a run whose load has ended and settled, in the shape of :class:`Figures`."""
    # Accepting again: the first 2xx after the last refusal since the fault; 0 when ingest never refused.
    refused = [
        sent
        for sent, _kind, status, _s in load.timeline
        if sent > fault_started and (status is None or not 200 <= status < 300)
    ]
    accepted_again = [
        sent + seconds - repaired_at
        for sent, _kind, status, seconds in load.timeline
        if refused and sent > max(refused) and status is not None and 200 <= status < 300
    ]
    again = (round(min(accepted_again), 1) if accepted_again else None) if refused else 0.0
    return Figures(
        scenario=scenario,
        started_at=started_at,
        load_deals_per_s=rate,
        load_seconds=round(load_seconds, 1),
        fault_seconds=round(fault_ended - fault_started, 1),
        time_to_accept_again_s=again,
        ingest_rss_mb_before=None,
        ingest_rss_mb_peak=None,
        notes=notes,
        **outcome(stack, load, run_tag, visible=visible, alerts=alerts, healed=healed, pids_before=pids_before),
    )


async def redis_fault_scenario(
    infra: Infra,
    stack: Stack,
    *,
    fault: str,
    load_before: float,
    down_for: float,
    load_after: float,
    rate: float,
    heal_timeout: float,
    results: Path,
) -> Figures:
    """Scenario 3: Redis killed (-9) under load and restarted from its append-only file ``down_for``
    seconds later (``fault="kill"``), or wiped with FLUSHALL under load (``fault="flushall"``).

    No service is touched: the worker must notice the changed run id (or its missing marks)
    and rewrite its partitions, review must answer again by itself.
    """
    run_tag = f"red{uuid.uuid4().hex[:6]}"
    load = LoadGenerator(stack.url("ingest"), rate, run_tag)
    pids_before = stack.pids()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_task = asyncio.create_task(load.run())
    t0 = time.monotonic()
    await asyncio.sleep(load_before)
    fault_started = time.monotonic()
    if fault == "kill":
        await asyncio.to_thread(infra.kill_redis)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(infra.start_redis)
        scenario = f"Redis kill -9, restarted from its AOF after {down_for:g} s"
    elif fault == "flushall":
        await asyncio.to_thread(infra.flush_redis)
        scenario = "Redis FLUSHALL under load"
    else:
        raise ValueError(f"fault: {fault!r} is neither kill nor flushall")
    repaired_at = time.monotonic()
    await asyncio.sleep(load_after)
    load.stop()
    await load_task
    load_seconds = time.monotonic() - t0
    visible, alerts, healed = await settle(stack, load, repaired_at, heal_timeout)
    before_fault = {
        p.deal_id
        for p, (sent, *_rest) in zip(load.record.posted, load.timeline)
        if p.kind == "discount" and sent < fault_started
    }
    missing = {d for d in load.record.acknowledged("discount") if alerts.get(d, 0) == 0}
    notes = (
        f"{len(missing & before_fault)} of {len(missing)} missing alerts were raised before the fault"
        if missing
        else ""
    )
    figures = figures_of(
        scenario,
        stack,
        load,
        run_tag,
        started_at=started_at,
        rate=rate,
        load_seconds=load_seconds,
        fault_started=fault_started,
        fault_ended=repaired_at,
        repaired_at=repaired_at,
        visible=visible,
        alerts=alerts,
        healed=healed,
        pids_before=pids_before,
        notes=notes,
    )
    figures.write(results)
    return figures


async def rebalance_storm_scenario(
    stack: Stack,
    *,
    storm_seconds: float,
    every: float,
    rate: float,
    heal_timeout: float,
    results: Path,
    kill_every: int = 3,
) -> Figures:
    """Scenario 5: extra scoring workers join and leave the consumer group every ``every`` seconds under load.

    The harness's worker stays up throughout (so "services died" still means a crash); extra
    ``pr-scoring`` processes in the same group, each with its own web port and data directory,
    join on even ticks and leave on odd ticks, the oldest first, by SIGTERM and every
    ``kill_every``-th leave by SIGKILL (no clean shutdown, no final commit).
    """
    run_tag = f"stm{uuid.uuid4().hex[:6]}"
    load = LoadGenerator(stack.url("ingest"), rate, run_tag)
    pids_before = stack.pids()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    extras: list[Service] = []
    starting: list[asyncio.Task] = []
    joins = terms = kills = 0
    failed_joins: list[str] = []
    told_to_leave: list[Service] = []

    async def join(number: int) -> None:
        port = free_port()
        worker = Service(
            "scoring",
            stack.env | scoring_env(stack.app_id, port, stack.log_dir / f"scoring-data-{number}"),
            f"http://127.0.0.1:{port}/readyz",
            stack.log_dir,
            argv=[str(BIN / "pr-scoring")],
        )
        extras.append(worker)
        try:
            await asyncio.to_thread(worker.start, 60)
        except AssertionError as exc:
            if worker not in told_to_leave:  # one told to leave before it was ready is part of the storm
                failed_joins.append(str(exc)[:300])

    load_task = asyncio.create_task(load.run())
    t0 = time.monotonic()
    await asyncio.sleep(every)  # the load runs with the one worker first
    storm_started = time.monotonic()
    tick = 0
    while time.monotonic() - storm_started < storm_seconds:
        if tick % 2 == 0 or not extras:
            starting.append(asyncio.create_task(join(joins)))
            joins += 1
        else:
            leaving = extras.pop(0)
            told_to_leave.append(leaving)
            if (terms + kills + 1) % kill_every == 0:
                kills += 1
                await asyncio.to_thread(leaving.kill)
            else:
                terms += 1
                await asyncio.to_thread(leaving.stop)
        tick += 1
        await asyncio.sleep(max(0.0, storm_started + tick * every - time.monotonic()))
    for worker in extras:  # the storm ends: the extras leave cleanly, the first worker takes everything back
        told_to_leave.append(worker)
        await asyncio.to_thread(worker.stop)
        terms += 1
    for task in starting:
        await task
    storm_ended = time.monotonic()
    await asyncio.sleep(every)
    load.stop()
    await load_task
    load_seconds = time.monotonic() - t0
    visible, alerts, healed = await settle(stack, load, storm_ended, heal_timeout)
    notes = f"{joins} joins, {terms} SIGTERM leaves, {kills} SIGKILL leaves"
    if failed_joins:
        notes += f"; {len(failed_joins)} workers failed to start: {failed_joins[0]}"
    figures = figures_of(
        f"rebalance storm: workers join/leave every {every:g} s for {storm_seconds:g} s",
        stack,
        load,
        run_tag,
        started_at=started_at,
        rate=rate,
        load_seconds=load_seconds,
        fault_started=storm_started,
        fault_ended=storm_ended,
        repaired_at=storm_ended,
        visible=visible,
        alerts=alerts,
        healed=healed,
        pids_before=pids_before,
        notes=notes,
    )
    figures.write(results)
    return figures
