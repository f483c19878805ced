"""``make bench``: the pipeline against raw-client baselines, in one run, on one broker and one Redis.

Starts its own Kafka and Redis with the deploy scripts (bench ports, own state dir), runs the
services as subprocesses (like the tests, with testkit/processes.py), prints a table and appends every figure to
bench/results.jsonl. Every figure is measured side by side with a raw baseline in the same run:

1. ingest      POST /v1/events (batches of 1 and 500)      vs kafka-python producer, acks=all
2. scoring     faust worker fold (table + Redis)            vs aiokafka consumer + json.loads
               and vs a faust agent that only counts (the framework's floor);
               CPU-s per 10k events, RSS, exactly_once true and false
3. freshness   at a steady 1k events/s: 2xx -> deal card visible; discount 2xx -> SSE alert
4. review      GET /v1/lists/leader?limit=50 (+team=)       vs bare FastAPI constant endpoint
5. growth      2 and 4 at 10k, 100k (and 1M) deals
6. scale-out   1, 2 and 3 workers on 12 partitions: a burst's throughput and lag; the takeover of a
               worker killed with -9 (with and without a standby replica)   vs one worker (make bench-full)
7. quix        our worker's fold vs the same fold as a quix-streams app (bench/quix_fold.py),
               both exactly-once on RocksDB, same topic from the start: events/s, CPU, RSS, ours/quix

    make bench  (= .venv/bin/python bench/run.py --quick)      make bench-full
    .venv/bin/python bench/run.py [--quick] [--only ingest,scoring,review,fresh,scaleout,quix] [--sizes 10000,...]
                                  [--profile] [--label text] [--keep-infra]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results.jsonl"
CLK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(ROOT))

from services.admin.topics import ensure_topics  # noqa: E402
from services.shared.events import decode_event  # noqa: E402
from services.shared.settings import CommonSettings  # noqa: E402
from testkit.processes import Service, free_port  # noqa: E402

# ---------------------------------------------------------------------------- plumbing


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


@dataclass
class Infra:
    state_dir: Path
    kafka_port: int
    redis_port: int
    started: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PR_STATE_DIR": str(self.state_dir),
            "PR_KAFKA_PORT": str(self.kafka_port),
            "PR_KAFKA_CONTROLLER_PORT": str(self.kafka_port + 1),
            "PR_REDIS_PORT": str(self.redis_port),
        }

    def up(self) -> None:
        for name in ("kafka", "redis"):
            script = str(ROOT / "deploy" / f"{name}.sh")
            if subprocess.run([script, "status"], env=self._env(), capture_output=True).returncode == 0:
                log(f"{name} already running in {self.state_dir}; reusing it (and leaving it running)")
                continue
            subprocess.run([script, "start"], env=self._env(), check=True)
            self.started.append(name)

    def pids(self) -> dict[str, int]:
        """The broker's and Redis's pids, from the deploy scripts' pid files."""
        files = {"kafka": self.state_dir / "kafka" / "kafka.pid", "redis": self.state_dir / "redis" / "redis.pid"}
        return {name: int(f.read_text().strip()) for name, f in files.items() if f.exists()}

    def down(self) -> None:
        for name in reversed(self.started):
            subprocess.run([str(ROOT / "deploy" / f"{name}.sh"), "stop"], env=self._env())
        self.started.clear()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


class Proc(Service):
    """A process of the run (testkit.processes.Service), plus what the benchmark reads of it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready_url: str, log_dir: Path):
        log_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(name, env, ready_url, log_dir, argv=argv)

    def start(self, timeout: float = 120.0) -> Proc:
        super().start(timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_mb(self, which: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(which + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")


def common_env(infra: Infra, topic_prefix: str, redis_prefix: str) -> dict[str, str]:
    return {
        "PR_KAFKA_BOOTSTRAP": infra.bootstrap,
        "PR_REDIS_URL": infra.redis_url,
        "PR_TOPIC_PREFIX": topic_prefix,
        "PR_REDIS_PREFIX": redis_prefix,
        # The benchmark measures throughput from one address; ingest's per-caller limit
        # (default 100 requests/s) would measure the limiter instead.
        "PR_INGEST_RATE_LIMIT": "1000000/second",
    }


def create_topics(infra: Infra, topic_prefix: str, partitions: int | None = None) -> CommonSettings:
    extra = {"deal_event_partitions": partitions} if partitions else {}
    settings = CommonSettings(
        kafka_bootstrap=infra.bootstrap, redis_url=infra.redis_url, topic_prefix=topic_prefix, **extra
    )
    ensure_topics(settings)
    return settings


# ---------------------------------------------------------------------------- workload

STAGES_EARLY = ["Prospecting", "Qualification", "Needs Analysis"]
STAGES_MID = ["Value Proposition", "Id. Decision Makers"]
STAGES_LATE = ["Proposal/Price Quote", "Negotiation/Review"]
TEAMS = ["East", "West", "Central", "North", "South", "EMEA", "APAC", "LATAM"]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def deal_created(deal_id: str, i: int, rng: random.Random, stage: str | None = None) -> dict:
    today = dt.date.today()
    ev = {
        "schema_version": 1,
        "event_id": f"{deal_id}-0",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": _iso(T0 + dt.timedelta(seconds=i)),
        "type": "deal.created",
        "changes": {
            "name": f"Deal {i}",
            "account": f"Account {i % 5000}",
            "owner_id": f"u{i % 400}",
            "owner_name": f"Rep {i % 400}",
            "team": TEAMS[i % len(TEAMS)],
            "manager_id": f"m{i % 40}",
            "stage": stage or rng.choice(STAGES_EARLY * 2 + STAGES_MID + STAGES_LATE),
            "amount": float(rng.randrange(1, 500) * 1000),
            "currency": "EUR",
            "close_date": (today + dt.timedelta(days=rng.randint(-30, 300))).isoformat(),
            "qualification": {
                "economic_buyer": rng.choice(["known", "unknown"]),
                "champion": rng.choice(["known", "unknown"]),
                "pain": rng.choice(["known", "unknown"]),
            },
        },
    }
    if rng.random() < 0.5:
        ev["changes"]["potential_value"] = float(rng.randrange(1, 2000) * 1000)
    return ev


def follow_up(deal_id: str, i: int, n: int, rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.4:
        kind, changes = "deal.stage_changed", {"stage": rng.choice(STAGES_MID + STAGES_LATE + STAGES_EARLY)}
    elif roll < 0.75:
        kind, changes = "deal.updated", {"amount": float(rng.randrange(1, 500) * 1000), "next_step": "call"}
    elif roll < 0.9:
        kind, changes = (
            "deal.discount_requested",
            {"discount_pct": float(rng.choice([5, 10, 15, 25])), "requested_by": f"u{i % 400}"},
        )
    else:
        kind, changes = "deal.updated", {"qualification": {"metrics": "known", "decision_process": "known"}}
    return {
        "schema_version": 1,
        "event_id": f"{deal_id}-{n}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": _iso(T0 + dt.timedelta(seconds=i, minutes=n)),
        "type": kind,
        "changes": changes,
    }


def workload(tag: str, n_deals: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """~1.5 events per deal: every deal is created, half get one follow-up (interleaved in chunks)."""
    rng = random.Random(seed)
    out: list[tuple[bytes, bytes]] = []
    chunk = 1000
    for start in range(0, n_deals, chunk):
        later = []
        for i in range(start, min(n_deals, start + chunk)):
            deal_id = f"{tag}:{i:07d}"
            ev = deal_created(deal_id, i, rng)
            out.append((deal_id.encode(), json.dumps(ev).encode()))
            if rng.random() < 0.5:
                later.append((deal_id.encode(), json.dumps(follow_up(deal_id, i, 1, rng)).encode()))
        out.extend(later)
    for _, value in out[:200]:
        decode_event(value)  # the workload must be valid canonical events
    return out


# ---------------------------------------------------------------------------- raw baselines


def raw_produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """kafka-python with the producer settings of ingest (acks=all, idempotent); events/s."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        batch_size=256 * 1024,
        client_id="bench-raw",
    )
    producer.partitions_for(topic)  # metadata outside the timed part, as a warm ingest has it
    t0 = time.perf_counter()
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()
    return len(records) / elapsed


async def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    """aiokafka consumer reading the topic from the start, json-decoding each value; events/s."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not parts:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - first look at the topic
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen, t0, first = 0, None, 0
        deadline = time.monotonic() + 600
        while seen < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    json.loads(record.value)
                    seen += 1
            if t0 is None and seen:
                t0, first = time.perf_counter(), seen
        return (seen - first) / (time.perf_counter() - t0)
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------- a tiny HTTP/1.1 load client


class Conn:
    """One keep-alive HTTP/1.1 connection; light enough not to be the bottleneck of the web figures."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def closed_loop(
    port: int, requests: list[tuple[str, str, bytes]], concurrency: int, duration: float | None = None
) -> tuple[float, list[float], int]:
    """Send ``requests`` (cycled when ``duration`` is given) over ``concurrency`` connections.

    Returns (requests/s, latencies in s, non-2xx count).
    """
    latencies: list[float] = []
    errors = 0
    index = 0
    stop_at = time.perf_counter() + duration if duration else None

    async def worker() -> None:
        nonlocal index, errors
        conn = Conn("127.0.0.1", port)
        try:
            while True:
                if stop_at is None:
                    if index >= len(requests):
                        return
                    method, path, body = requests[index]
                elif time.perf_counter() >= stop_at:
                    return
                else:
                    method, path, body = requests[index % len(requests)]
                index += 1
                t = time.perf_counter()
                status, _ = await conn.request(method, path, body)
                latencies.append(time.perf_counter() - t)
                if not 200 <= status < 300:
                    errors += 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - t0), latencies, errors


# ---------------------------------------------------------------------------- results

MACHINE = (
    f"{platform.node()} nproc={os.cpu_count()} "
    + next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    + " ram={:.0f}G".format(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
)


def git_commit() -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read-only: never touch the index
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, env=env
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "services", "bench"], cwd=ROOT, env=env
        ).returncode
        return sha + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


class Report:
    def __init__(self, mode: str, label: str):
        self.mode, self.label = mode, label
        self.rows: list[Row] = []
        self.date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.commit = git_commit()

    def add(self, row: Row) -> None:
        self.rows.append(row)
        ratio = f" ratio={row.ratio:.3f}" if row.ratio is not None else ""
        base = f" baseline={row.baseline:,.1f} ({row.baseline_name})" if row.baseline is not None else ""
        log(f"{row.figure}: {row.value:,.2f} {row.unit}{base}{ratio} {row.note}")
        with RESULTS.open("a") as f:
            f.write(
                json.dumps(
                    {
                        "date": self.date,
                        "commit": self.commit,
                        "machine": MACHINE,
                        "mode": self.mode,
                        "label": self.label,
                        "figure": row.figure,
                        "value": round(row.value, 4),
                        "unit": row.unit,
                        "baseline": round(row.baseline, 4) if row.baseline is not None else None,
                        "baseline_name": row.baseline_name,
                        "ratio": round(row.ratio, 4) if row.ratio is not None else None,
                        "target": row.target,
                        "note": row.note,
                    }
                )
                + "\n"
            )

    def table(self) -> str:
        head = ["figure", "value", "unit", "baseline", "ratio", "target", "note"]
        body = [
            [
                r.figure,
                f"{r.value:,.2f}",
                r.unit,
                f"{r.baseline:,.1f} ({r.baseline_name})" if r.baseline is not None else "",
                f"{r.ratio:.3f}" if r.ratio is not None else "",
                r.target,
                r.note,
            ]
            for r in self.rows
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return (
            f"Pipeline Review bench — {self.date} commit {self.commit} mode {self.mode} {self.label}\n"
            f"machine: {MACHINE}\n" + "\n".join(lines)
        )


# ---------------------------------------------------------------------------- 1. ingest


async def bench_ingest(infra: Infra, run: str, cfg: dict, report: Report, logs: Path) -> None:
    tp = f"{run}-ing-"
    settings = create_topics(infra, tp)
    port = free_port()
    ingest = Proc(
        "ingest",
        [str(BIN / "pr-ingest")],
        {**common_env(infra, tp, f"{run}ing"), "PR_INGEST_PORT": str(port), "PR_INGEST_LOG_LEVEL": "warning"},
        f"http://127.0.0.1:{port}/readyz",
        logs,
    ).start()
    try:
        big = workload(f"{run}ing", cfg["ingest_deals"])
        values = [v for _, v in big]
        # Warm-up: the producer connects on first use.
        await closed_loop(port, [("POST", "/v1/events", values[0])], 1)
        n500 = len(values) // 500 * 500
        reqs500 = [("POST", "/v1/events", b"[" + b",".join(values[i : i + 500]) + b"]") for i in range(0, n500, 500)]
        spy = start_profiler(ingest, logs / "profile-ingest-batch500.txt") if cfg.get("profile") else None
        try:
            rps, lat, err = await closed_loop(port, reqs500, cfg["ingest_conc_500"])
        finally:
            stop_profiler(spy)
        eps500 = rps * 500
        reqs1 = [("POST", "/v1/events", v) for v in values[: cfg["ingest_single"]]]
        rps1, lat1, err1 = await closed_loop(port, reqs1, cfg["ingest_conc_1"])
        raw = raw_produce(infra.bootstrap, settings.deal_events_topic, big[:n500])
        report.add(
            Row(
                "ingest POST /v1/events batch=500",
                eps500,
                "events/s",
                raw,
                "kafka-python acks=all",
                ">=0.5x",
                f"{cfg['ingest_conc_500']} conns, {n500} events, p99 {pct(lat, 99) * 1000:.0f} ms/req, {err} non-2xx",
            )
        )
        report.add(
            Row(
                "ingest POST /v1/events batch=1",
                rps1,
                "events/s",
                raw,
                "kafka-python acks=all",
                "",
                f"{cfg['ingest_conc_1']} conns, {len(reqs1)} events, p99 {pct(lat1, 99) * 1000:.0f} ms/req, "
                f"{err1} non-2xx",
            )
        )
    finally:
        ingest.stop()


# ---------------------------------------------------------------------------- 2. scoring (+ 5. growth)


def scoring_proc(
    infra: Infra, tp: str, rp: str, app_id: str, exactly_once: bool, logs: Path, extra: dict | None = None
) -> Proc:
    port = free_port()
    (logs / "data").mkdir(parents=True, exist_ok=True)
    env = {
        **common_env(infra, tp, rp),
        "PR_SCORING_APP_ID": app_id,
        "PR_SCORING_WEB_PORT": str(port),
        "PR_SCORING_DATA_DIR": str(logs / "data" / app_id),
        "PR_SCORING_SESSION_TIMEOUT": "6",
        "PR_SCORING_HEARTBEAT_INTERVAL": "0.5",
        "PR_SCORING_LOG_LEVEL": "warning",
        "PR_SCORING_EXACTLY_ONCE": "true" if exactly_once else "false",
        **(extra or {}),
    }
    return Proc(f"scoring-{app_id}", [str(BIN / "pr-scoring")], env, f"http://127.0.0.1:{port}/healthz", logs)


def start_profiler(proc: Proc, out: Path) -> subprocess.Popen:
    """py-spy, sampling the GIL holder of ``proc`` (Python CPU time) into collapsed stacks at ``out``."""
    log(f"profiling {proc.name} into {out}")
    return subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(proc.pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--gil",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profiler(spy: subprocess.Popen | None) -> None:
    if spy is not None and spy.poll() is None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        spy.wait(60)


def time_to_ready(worker: Proc, timeout: float) -> float:
    """Seconds from starting ``worker`` until its /readyz answers 200 (table recovered); the worker is stopped."""
    started = time.perf_counter()
    worker.start()
    ready = worker.ready_url.replace("/healthz", "/readyz")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(ready, timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.name} died; see {worker.log_path}")
            time.sleep(0.1)
        return float("nan")
    finally:
        worker.stop()


def fold_all(worker: Proc, expected: int, timeout: float) -> dict:
    """Wait until the worker folded ``expected`` events; rate, CPU and RSS over the steady part."""
    ready = worker.ready_url.replace("/healthz", "/readyz")
    t_first = cpu_first = None
    first = 0
    deadline = time.monotonic() + timeout
    done = 0
    rss_peak = 0.0
    while time.monotonic() < deadline:
        try:
            done = httpx.get(ready, timeout=5).json().get("events", 0)
        except (httpx.HTTPError, ValueError):
            done = done
        rss_peak = max(rss_peak, worker.rss_mb())
        if t_first is None and done > 0:
            t_first, cpu_first, first = time.perf_counter(), worker.cpu_seconds(), done
        if done >= expected:
            break
        if worker.process.poll() is not None:
            raise RuntimeError(f"{worker.name} died; see {worker.log_path}")
        time.sleep(0.1)
    elapsed = time.perf_counter() - t_first
    cpu = worker.cpu_seconds() - cpu_first
    n = done - first
    return {
        "eps": n / elapsed,
        "cpu_per_10k": cpu / n * 10_000 if n else float("nan"),
        "rss": worker.rss_mb(),
        "rss_peak": max(rss_peak, worker.rss_mb("VmHWM")),
        "complete": done >= expected,
        "done": done,
    }


async def bench_scoring(
    infra: Infra, run: str, n_deals: int, cfg: dict, report: Report, logs: Path, review_after
) -> None:
    tp, rp = f"{run}-s{n_deals}-", f"{run}s{n_deals}"
    settings = create_topics(infra, tp)
    records = workload(f"{run}s{n_deals}", n_deals)
    log(f"{n_deals:,} deals: producing {len(records):,} events")
    raw_produce(infra.bootstrap, settings.deal_events_topic, records)
    raw = await raw_consume(infra.bootstrap, settings.deal_events_topic, len(records))
    size = f"{n_deals // 1000}k deals" if n_deals < 1_000_000 else f"{n_deals // 1_000_000}M deals"
    floor_port = free_port()
    floor = Proc(
        f"faust-floor-s{n_deals}",
        [str(BIN / "python"), str(ROOT / "bench" / "faust_floor.py"), "worker", "-l", "warn"],
        {
            "BENCH_TOPIC": settings.deal_events_topic,
            "BENCH_APP_ID": f"{run}-s{n_deals}-floor",
            "BENCH_PORT": str(floor_port),
            "BENCH_BOOTSTRAP": infra.bootstrap,
            "BENCH_DATA_DIR": str(logs / "data" / f"floor-{n_deals}"),
        },
        f"http://127.0.0.1:{floor_port}/healthz",
        logs,
    ).start()
    try:
        floor_got = fold_all(floor, len(records), cfg["fold_timeout"])
    finally:
        floor.stop()
    report.add(
        Row(
            f"scoring faust floor @{size}",
            floor_got["eps"],
            "events/s",
            raw,
            "aiokafka+json.loads",
            "",
            "a faust agent with take(500) that only counts: no decode, table or Redis",
        )
    )
    stores = cfg["stores"]
    # The first store gets the read model review is measured on; each other store its own prefix.
    runs = [(True, rp if i == 0 else f"{rp}{store[0]}", store) for i, store in enumerate(stores)]
    runs += [(False, rp + "x", stores[0])] if n_deals in cfg["eos_off_at"] else []
    for exactly_once, redis_prefix, store in runs:
        app_id = f"{run}-s{n_deals}-{'eos' if exactly_once else 'alo'}-{store}"
        store_env = {"PR_SCORING_STORE": store}
        worker = scoring_proc(infra, tp, redis_prefix, app_id, exactly_once, logs, store_env).start()
        spy = start_profiler(worker, logs / f"profile-{app_id}.txt") if cfg.get("profile") else None
        try:
            got = fold_all(worker, len(records), cfg["fold_timeout"])
        finally:
            stop_profiler(spy)
            worker.stop()
        eos = f"exactly_once={'true' if exactly_once else 'false'} store={store}"
        note = f"{size}, {len(records):,} events" + ("" if got["complete"] else f", INCOMPLETE {got['done']:,}")
        report.add(
            Row(
                f"scoring fold {eos} @{size}",
                got["eps"],
                "events/s",
                raw,
                "aiokafka+json.loads",
                ">=0.25x",
                note + f"; {got['eps'] / floor_got['eps']:.2f}x the faust floor",
            )
        )
        report.add(Row(f"scoring CPU {eos} @{size}", got["cpu_per_10k"], "CPU-s/10k events", note=note))
        report.add(Row(f"scoring RSS {eos} @{size}", got["rss"], "MB", note=f"peak {got['rss_peak']:.0f} MB"))
        if exactly_once:
            # The same worker (group, data directory) started again after a clean stop.
            restart = scoring_proc(infra, tp, redis_prefix, app_id, exactly_once, logs, store_env)
            seconds = time_to_ready(restart, cfg["fold_timeout"])
            report.add(
                Row(
                    f"scoring restart to ready store={store} @{size}",
                    seconds,
                    "s",
                    note=f"start to /readyz 200 (table recovered), {size}",
                )
            )
    await review_after(rp, size)


# ---------------------------------------------------------------------------- 6. scale-out

SCALE_PARTITIONS = 12


class WorkerDied(RuntimeError):
    """A worker of a scale-out run exited on its own; the run's figure would be meaningless."""


def folded(workers: list[Proc]) -> int:
    """Events folded by the workers so far; raises WorkerDied when one of them is gone."""
    dead = [w for w in workers if w.process is None or w.process.poll() is not None]
    if dead:
        raise WorkerDied(", ".join(f"{w.name} exited ({w.log_path})" for w in dead))
    return sum(worker_state(w).get("events", 0) for w in workers)


def worker_state(worker: Proc) -> dict:
    """A worker's /readyz body (its counters), or {} while it does not answer."""
    try:
        return httpx.get(worker.ready_url.replace("/healthz", "/readyz"), timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}


def wait_all_ready(workers: list[Proc], timeout: float) -> None:
    """Until every worker's /readyz is 200: assigned, table recovered, no rebalance going on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folded(workers)  # raises WorkerDied when one has exited
        codes = []
        for worker in workers:
            try:
                codes.append(httpx.get(worker.ready_url.replace("/healthz", "/readyz"), timeout=5).status_code)
            except httpx.HTTPError:
                codes.append(0)
        if all(code == 200 for code in codes):
            return
        time.sleep(0.2)
    raise RuntimeError(f"workers not ready after {timeout}s: {[w.log_path for w in workers]}")


def burst_then_drain(
    infra: Infra, topic: str, workers: list[Proc], records: list[tuple[bytes, bytes]], timeout: float
) -> dict:
    """Produce ``records`` at once into a topic the idle workers own; time until all are folded."""
    base = folded(workers)
    cpu0 = sum(w.cpu_seconds() for w in workers)
    started = time.perf_counter()
    raw_produce(infra.bootstrap, topic, records)
    produced_in = time.perf_counter() - started
    lag_after_burst = len(records) - (folded(workers) - base)
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = folded(workers) - base
        if done >= len(records):
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    return {
        "eps": done / elapsed,
        "lag_after_burst": lag_after_burst,
        "drain_s": elapsed,
        "produce_s": produced_in,
        "complete": done >= len(records),
        "cpu": sum(w.cpu_seconds() for w in workers) - cpu0,
    }


def takeover_seconds(
    infra: Infra, topic: str, survivors: list[Proc], victim: Proc, probe: list[tuple[bytes, bytes]], timeout: float
) -> float:
    """kill -9 ``victim``, send ``probe`` (records on every partition) at once; seconds until the
    survivors folded every probe record, the victim's partitions included."""
    base = folded(survivors)
    started = time.perf_counter()
    victim.kill()
    raw_produce(infra.bootstrap, topic, probe)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folded(survivors) - base >= len(probe):
            return time.perf_counter() - started
        time.sleep(0.1)
    return float("nan")


async def bench_scaleout(infra: Infra, run: str, cfg: dict, report: Report, logs: Path) -> None:
    """1, 2 and 3 workers in one group on 12 partitions: a burst's throughput and lag, and the
    takeover after a kill -9. Two cores cap what more workers can add: they share them with the
    broker, Redis and each other."""
    n_deals = cfg["scale_deals"]
    extra = {"PR_DEAL_EVENT_PARTITIONS": str(SCALE_PARTITIONS)}
    one_worker_eps = None
    for count in (1, 2, 3):
        for standby in (0, 1) if count == 2 else (0,):
            tag = f"so{count}w{standby}s"
            tp, rp = f"{run}-{tag}-", f"{run}{tag}"
            settings = create_topics(infra, tp, SCALE_PARTITIONS)
            app_id = f"{run}-{tag}"
            env = {**extra, "PR_SCORING_STANDBY_REPLICAS": str(standby)}
            workers = []
            label = f"{count} workers, standby={standby}"
            try:
                for index in range(count):
                    worker = scoring_proc(infra, tp, rp, app_id, True, logs / f"{tag}-{index}", env)
                    workers.append(worker.start())
                wait_all_ready(workers, cfg["fold_timeout"])
                records = workload(rp, n_deals)
                got = burst_then_drain(infra, settings.deal_events_topic, workers, records, cfg["fold_timeout"])
                size = f"{len(records):,} events, {SCALE_PARTITIONS} partitions"
                if count == 1:
                    one_worker_eps = got["eps"]
                if standby == 0:
                    report.add(
                        Row(
                            f"scale-out burst {count} worker(s)",
                            got["eps"],
                            "events/s",
                            one_worker_eps if count > 1 else None,
                            "1 worker" if count > 1 else "",
                            "",
                            f"{size}; lag {got['lag_after_burst']:,} right after the burst (produced in "
                            f"{got['produce_s']:.1f} s), worked off in {got['drain_s']:.1f} s; "
                            f"{got['cpu'] / len(records) * 10_000:.2f} worker CPU-s/10k events"
                            + ("" if got["complete"] else ", INCOMPLETE"),
                        )
                    )
                if count > 1:
                    wait_all_ready(workers, cfg["fold_timeout"])
                    probe = workload(f"{rp}probe", SCALE_PARTITIONS * 20)
                    seconds = takeover_seconds(
                        infra, settings.deal_events_topic, workers[:-1], workers[-1], probe, cfg["fold_timeout"]
                    )
                    report.add(
                        Row(
                            f"scale-out takeover after kill -9, {label}",
                            seconds,
                            "s",
                            note=f"kill -9 of one worker to every probe record folded by the others "
                            f"(session timeout 6 s in the bench); {n_deals:,} deals in the table",
                        )
                    )
            except WorkerDied as exc:
                # A finding, not a crash of the benchmark: the row says which worker died and where its log is.
                report.add(Row(f"scale-out FAILED, {label}", float("nan"), "", note=f"a worker died: {exc}"))
            finally:
                for worker in workers:
                    worker.stop()
            cleanup_redis(infra, rp)


# ---------------------------------------------------------------------------- 6. a peer: quix-streams

QUIX_VENV = ROOT / "bench" / "quix-venv.sh"


def quix_python() -> str:
    """The python of bench/quix-venv.sh's venv (created on first use): quixstreams' pins clash with the project's."""
    out = subprocess.run(["bash", str(QUIX_VENV)], check=True, stdout=subprocess.PIPE, text=True)  # its log on stderr
    return out.stdout.strip().splitlines()[-1]


def quix_proc(infra: Infra, python: str, tp: str, rp: str, alerts_topic: str, app_id: str, logs: Path) -> Proc:
    port = free_port()
    env = {
        **common_env(infra, tp, rp),
        "BENCH_APP_ID": app_id,
        "BENCH_PORT": str(port),
        "BENCH_ALERTS_TOPIC": alerts_topic,
        "BENCH_STATE_DIR": str(logs / "data" / app_id),
    }
    return Proc(app_id, [python, str(ROOT / "bench" / "quix_fold.py")], env, f"http://127.0.0.1:{port}/healthz", logs)


def read_model_diff(infra: Infra, ours: str, theirs: str, sample: int = 2000) -> list[str]:
    """Where two read models differ: key sets, every sorted set's size, ``sample`` cards and 50 sorted sets in full.

    Keys are compared less their prefix; a card names its sorted sets, so the peer's is compared with
    its prefix put back to ours. ``<prefix>:scoring:*`` is the worker's own bookkeeping (the Redis
    guard's marker), not the read model."""
    import redis

    client = redis.Redis.from_url(infra.redis_url)

    def keys_of(prefix: str) -> dict[str, bytes]:
        found = {}
        for key in client.scan_iter(f"{prefix}:*", count=5000):
            rest = key[len(prefix) + 1 :].decode()
            if not rest.startswith("scoring:"):
                found[rest] = key
        return found

    mine, peer = keys_of(ours), keys_of(theirs)
    diffs = [f"only in ours: {k}" for k in sorted(mine.keys() - peer.keys())[:5]]
    diffs += [f"only in quix: {k}" for k in sorted(peer.keys() - mine.keys())[:5]]
    common = sorted(mine.keys() & peer.keys())
    cards = [k for k in common if k.startswith("deal:")]
    ranks = [k for k in common if not k.startswith("deal:")]
    pipe = client.pipeline(transaction=False)
    for k in ranks:
        pipe.zcard(mine[k])
        pipe.zcard(peer[k])
    sizes = pipe.execute()
    diffs += [f"{k}: {a} vs {b} members" for k, a, b in zip(ranks, sizes[::2], sizes[1::2]) if a != b][:5]
    rng = random.Random(3)
    for k in rng.sample(cards, min(sample, len(cards))):
        a, b = client.get(mine[k]), client.get(peer[k])
        if a != b.replace(f"{theirs}:".encode(), f"{ours}:".encode()):  # theirs is ours + a suffix
            diffs.append(f"card {k} differs")
    for k in rng.sample(ranks, min(50, len(ranks))):
        if client.zrange(mine[k], 0, -1, withscores=True) != client.zrange(peer[k], 0, -1, withscores=True):
            diffs.append(f"sorted set {k} differs")
    client.close()
    return diffs


async def alert_copies(bootstrap: str, topic: str) -> dict[tuple[str, str], int]:
    """Committed records per (alert_id, kind) on ``topic``, read from the start."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    copies: dict[tuple[str, str], int] = {}
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - first look at the topic
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        # Until two quiet seconds: the folds have stopped, so nothing more will come.
        quiet, deadline = 0, time.monotonic() + 300
        while quiet < 2 and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            quiet = 0 if batches else quiet + 1
            for records in batches.values():
                for record in records:
                    alert = json.loads(record.value)
                    copies[alert["alert_id"], alert["kind"]] = copies.get((alert["alert_id"], alert["kind"]), 0) + 1
    finally:
        await consumer.stop()
    return copies


async def bench_quix(infra: Infra, run: str, n_deals: int, cfg: dict, report: Report, logs: Path) -> None:
    """Our worker and the quix-streams peer (bench/quix_fold.py) fold the same topic from the start, one after the other.

    Both exactly-once on RocksDB, each with its own consumer group, Redis prefix and alerts topic (of
    the same partitions); afterwards the read models and the alerts of the two are compared."""
    python = quix_python()
    tp, rp = f"{run}-q{n_deals}-", f"{run}q{n_deals}"
    settings = create_topics(infra, tp)
    peer_alerts = create_topics(infra, f"{tp}peer-").deal_alerts_topic  # only its deal-alerts is used
    records = workload(f"{run}q{n_deals}", n_deals)
    size = f"{n_deals // 1000}k deals" if n_deals < 1_000_000 else f"{n_deals // 1_000_000}M deals"
    log(f"quix peer, {n_deals:,} deals: producing {len(records):,} events")
    raw_produce(infra.bootstrap, settings.deal_events_topic, records)
    got = {}
    for name in ("ours", "quix"):
        app_id = f"{run}-q{n_deals}-{name}"
        if name == "ours":
            proc = scoring_proc(infra, tp, rp, app_id, True, logs, {"PR_SCORING_STORE": "rocksdb"})
        else:
            proc = quix_proc(
                infra, python, tp, rp + "x", peer_alerts, app_id, logs
            )  # cleanup_redis(rp) drops rp + "x" too
        proc.start()
        spy = start_profiler(proc, logs / f"profile-{app_id}.txt") if cfg.get("profile") else None
        try:
            got[name] = fold_all(proc, len(records), min(cfg["fold_timeout"], cfg["quix_fold_cap"]))
        finally:
            stop_profiler(spy)
            proc.stop()
    ours, quix = got["ours"], got["quix"]
    if not (ours["complete"] and quix["complete"]):
        # Rates over the part folded stand; the read models and alerts of a part cannot be compared.
        note = f"{size}, {len(records):,} events, both exactly-once on RocksDB" + "".join(
            f", {name} INCOMPLETE {g['done']:,} in {cfg['quix_fold_cap']} s"
            for name, g in got.items()
            if not g["complete"]
        )
        report.add(
            Row(
                f"quix peer fold ours/quix @{size}",
                ours["eps"],
                "events/s",
                quix["eps"],
                "quix-streams 3.28.1",
                ">=1x",
                note + "; not compared",
            )
        )
        report.add(
            Row(
                f"quix peer CPU ours/quix @{size}",
                ours["cpu_per_10k"],
                "CPU-s/10k events",
                quix["cpu_per_10k"],
                "quix-streams 3.28.1",
                "",
                note,
            )
        )
        return
    diffs = read_model_diff(infra, rp, rp + "x")
    alerts = {
        "ours": await alert_copies(infra.bootstrap, settings.deal_alerts_topic),
        "quix": await alert_copies(infra.bootstrap, peer_alerts),
    }
    both = alerts["ours"].keys() & alerts["quix"].keys()
    repeated = sum(1 for copies in alerts.values() for n in copies.values() if n > 1)
    # The worker checks a folded deal's stall once per batch, quix after every event: a deal that
    # entered a stalled stage and left it within one batch is alerted by quix only.
    only = {
        name: Counter(kind for (alert_id, kind) in copies if (alert_id, kind) not in both)
        for name, copies in alerts.items()
    }
    same = (
        f"read models {'equal' if not diffs else 'DIFFER: ' + '; '.join(diffs[:3])}; "
        f"{len(both):,} alerts raised by both, {repeated} repeated, "
        + ", ".join(
            f"by {name} only {sum(c.values())} ({', '.join(f'{k} {n}' for k, n in c.items()) or '-'})"
            for name, c in only.items()
        )
    )
    note = f"{size}, {len(records):,} events, both exactly-once on RocksDB"
    peer = "quix-streams 3.28.1"
    report.add(
        Row(f"quix peer fold ours/quix @{size}", ours["eps"], "events/s", quix["eps"], peer, ">=1x", f"{note}; {same}")
    )
    report.add(
        Row(
            f"quix peer CPU ours/quix @{size}",
            ours["cpu_per_10k"],
            "CPU-s/10k events",
            quix["cpu_per_10k"],
            peer,
            "",
            f"{note}; a ratio under 1 is less CPU than quix",
        )
    )
    report.add(
        Row(
            f"quix peer RSS ours/quix @{size}",
            ours["rss"],
            "MB",
            quix["rss"],
            peer,
            "",
            f"peak {ours['rss_peak']:.0f} MB vs {quix['rss_peak']:.0f} MB",
        )
    )


# ---------------------------------------------------------------------------- 4. review


async def bench_review(infra: Infra, redis_prefix: str, size: str, cfg: dict, report: Report, logs: Path) -> None:
    port, bare_port = free_port(), free_port()
    review = Proc(
        "review",
        [str(BIN / "pr-review")],
        {
            **common_env(infra, "unused-", redis_prefix),
            "PR_REVIEW_PORT": str(port),
            "PR_REVIEW_LOG_LEVEL": "warning",
            "PR_REVIEW_ALERT_FEED_ENABLED": "false",
        },
        f"http://127.0.0.1:{port}/readyz",
        logs,
    )
    bare = Proc(
        "bare",
        [
            str(BIN / "python"),
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(ROOT / "bench"),
            "--host",
            "127.0.0.1",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
        ],
        {},
        f"http://127.0.0.1:{bare_port}/healthz",
        logs,
    )
    review.start()
    bare.start()
    try:
        dur = cfg["review_seconds"]
        paths = {"leader": "/v1/lists/leader?limit=50", "leader team=": "/v1/lists/leader?limit=50&team=East"}
        status, body = await Conn("127.0.0.1", port).request("GET", paths["leader"])
        items = len(json.loads(body)["items"]) if status == 200 else -1
        await closed_loop(bare_port, [("GET", "/v1/lists/leader", b"")], 4, 1.0)  # warm-up
        base_rps, base_lat, _ = await closed_loop(
            bare_port, [("GET", "/v1/lists/leader", b"")], cfg["review_conc"], dur
        )
        _, base_lat1, _ = await closed_loop(bare_port, [("GET", "/v1/lists/leader", b"")], 1, dur / 2)
        for name, path in paths.items():
            await closed_loop(port, [("GET", path, b"")], 4, 1.0)  # warm-up
            rps, lat, err = await closed_loop(port, [("GET", path, b"")], cfg["review_conc"], dur)
            _, lat1, _ = await closed_loop(port, [("GET", path, b"")], 1, dur / 2)
            report.add(
                Row(
                    f"review {name} req/s @{size}",
                    rps,
                    "req/s",
                    base_rps,
                    "bare FastAPI constant",
                    "",
                    f"{cfg['review_conc']} conns, p99 {pct(lat, 99) * 1000:.1f} ms "
                    f"(bare {pct(base_lat, 99) * 1000:.1f}), {items} items, {err} non-2xx",
                )
            )
            report.add(
                Row(
                    f"review {name} p99 1 client @{size}",
                    pct(lat1, 99) * 1000,
                    "ms",
                    pct(base_lat1, 99) * 1000,
                    "bare FastAPI constant",
                    "<10 ms",
                    f"p50 {pct(lat1, 50) * 1000:.2f} ms",
                )
            )
    finally:
        review.stop()
        bare.stop()


# ---------------------------------------------------------------------------- 3. freshness


async def bench_freshness(infra: Infra, run: str, cfg: dict, report: Report, logs: Path) -> None:
    tp, rp = f"{run}-fresh-", f"{run}fresh"
    create_topics(infra, tp)
    ingest_port, review_port = free_port(), free_port()
    ingest = Proc(
        "ingest-fresh",
        [str(BIN / "pr-ingest")],
        {**common_env(infra, tp, rp), "PR_INGEST_PORT": str(ingest_port), "PR_INGEST_LOG_LEVEL": "warning"},
        f"http://127.0.0.1:{ingest_port}/readyz",
        logs,
    )
    eos = cfg.get("fresh_exactly_once", True)
    scoring = scoring_proc(infra, tp, rp, f"{run}-fresh", eos, logs)
    review = Proc(
        "review-fresh",
        [str(BIN / "pr-review")],
        {
            **common_env(infra, tp, rp),
            "PR_REVIEW_PORT": str(review_port),
            "PR_REVIEW_LOG_LEVEL": "warning",
            "PR_REVIEW_ALERT_GROUP": f"{run}-alerts",
        },
        f"http://127.0.0.1:{review_port}/readyz",
        logs,
    )
    procs = [ingest.start(), scoring.start(), review.start()]
    rng = random.Random(11)
    try:
        ingest_url, review_url = f"http://127.0.0.1:{ingest_port}", f"http://127.0.0.1:{review_port}"
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            # Background deals and the late-stage deals the alert probes discount.
            n_bg, n_probe = 2000, cfg["fresh_seconds"] * 4 + 10
            bg = [deal_created(f"{run}f:bg{i}", i, rng) for i in range(n_bg)]
            late = [deal_created(f"{run}f:late{i}", i, rng, stage="Negotiation/Review") for i in range(n_probe)]
            everything = bg + late
            for i in range(0, len(everything), 500):
                r = await client.post(f"{ingest_url}/v1/events", json=everything[i : i + 500])
                r.raise_for_status()
            scoring_ready = scoring.ready_url.replace("/healthz", "/readyz")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if (await client.get(scoring_ready)).json().get("events", 0) >= len(everything):
                    break
                await asyncio.sleep(0.2)

            alert_seen: dict[str, float] = {}
            sse_open = asyncio.Event()

            async def sse() -> None:
                async with client.stream("GET", f"{review_url}/v1/alerts/stream", timeout=None) as resp:
                    sse_open.set()
                    async for line in resp.aiter_lines():
                        if line.startswith("data:"):
                            item = json.loads(line[5:])
                            alert_seen.setdefault(item.get("deal_id", ""), time.perf_counter())

            sse_task = asyncio.create_task(sse())
            await asyncio.wait_for(sse_open.wait(), 10)
            await asyncio.sleep(0.5)

            card_lat: list[float] = []
            alert_sent: dict[str, float] = {}
            pending: set[asyncio.Task] = set()
            skipped = 0
            seq = 0
            accepted = 0
            # The load comes through the light keep-alive client (Conn), not httpx: on two
            # cores an httpx sender at 100 requests/s plus probes was itself the bottleneck,
            # and its queueing showed up as pipeline latency.
            idle_ingest: asyncio.Queue[Conn] = asyncio.Queue()
            for _ in range(16):
                idle_ingest.put_nowait(Conn("127.0.0.1", ingest_port))
            idle_review: asyncio.Queue[Conn] = asyncio.Queue()
            for _ in range(16):
                idle_review.put_nowait(Conn("127.0.0.1", review_port))

            async def post(events: list[dict]) -> float | None:
                nonlocal accepted
                conn = await idle_ingest.get()
                try:
                    status, _ = await conn.request("POST", "/v1/events", json.dumps(events).encode())
                finally:
                    idle_ingest.put_nowait(conn)
                if status != 202:
                    return None
                accepted += len(events)
                return time.perf_counter()

            async def card_probe(i: int) -> None:
                deal_id = f"{run}f:card{i}"
                ev = deal_created(deal_id, 10_000 + i, rng)
                t_ack = await post([ev])
                if t_ack is None:
                    return
                stop = time.monotonic() + 30
                conn = await idle_review.get()
                try:
                    while time.monotonic() < stop:
                        status, _ = await conn.request("GET", f"/v1/deals/{deal_id}")
                        if status == 200:
                            card_lat.append(time.perf_counter() - t_ack)
                            return
                        # 25 ms: fine enough for a 500 ms target, light enough that the
                        # probes' own polling does not become the load.
                        await asyncio.sleep(0.025)
                finally:
                    idle_review.put_nowait(conn)

            async def alert_probe(i: int) -> None:
                deal_id = late[i]["deal_id"]
                ev = {
                    "schema_version": 1,
                    "event_id": f"{deal_id}-disc",
                    "source": "api",
                    "deal_id": deal_id,
                    "occurred_at": _iso(T0 + dt.timedelta(days=1)),
                    "type": "deal.discount_requested",
                    "changes": {"discount_pct": 15.0, "requested_by": "u1"},
                }
                t_ack = await post([ev])
                if t_ack is not None:
                    alert_sent[deal_id] = t_ack

            def spawn(coro) -> None:
                nonlocal skipped
                if len(pending) > 300:
                    skipped += 1
                    coro.close()
                    return
                task = asyncio.create_task(coro)
                pending.add(task)
                task.add_done_callback(pending.discard)

            cpu_before = {p.name: p.cpu_seconds() for p in procs}
            infra_before = {name: cpu_seconds(pid) for name, pid in infra.pids().items()}
            cpu_bench = time.process_time()
            spies = (
                [start_profiler(p, logs / f"profile-fresh-{p.name}.txt") for p in procs] if cfg.get("profile") else []
            )
            rate, tick = cfg["fresh_rate"], 0.01
            per_tick = int(rate * tick)
            t_start = time.perf_counter()
            n_ticks = int(cfg["fresh_seconds"] / tick)
            for k in range(n_ticks):
                target = t_start + k * tick
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                batch = []
                for _ in range(per_tick):
                    seq += 1
                    deal = bg[rng.randrange(n_bg)]["deal_id"]
                    batch.append(
                        {
                            "schema_version": 1,
                            "event_id": f"{deal}-u{seq}",
                            "source": "api",
                            "deal_id": deal,
                            "occurred_at": _iso(T0 + dt.timedelta(days=2, seconds=seq)),
                            "type": "deal.updated",
                            "changes": {"amount": float(rng.randrange(1, 500) * 1000)},
                        }
                    )
                spawn(post(batch))
                if k % 20 == 5:  # 5 card probes per second
                    spawn(card_probe(k))
                if k % 25 == 12:  # 4 alert probes per second
                    spawn(alert_probe(k // 25))
            sent_for = time.perf_counter() - t_start
            for spy in spies:
                stop_profiler(spy)
            cpu_note = (
                "CPU share while sending: "
                + ", ".join(
                    f"{p.name.split('-')[0]} {(p.cpu_seconds() - cpu_before[p.name]) / sent_for:.0%}" for p in procs
                )
                + "".join(
                    f", {name} {(cpu_seconds(pid) - infra_before[name]) / sent_for:.0%}"
                    for name, pid in infra.pids().items()
                    if name in infra_before
                )
                + f", bench client {(time.process_time() - cpu_bench) / sent_for:.0%}"
            )
            await asyncio.gather(*pending, return_exceptions=True)
            await asyncio.sleep(5.0)
            sse_task.cancel()
            alert_lat = [alert_seen[d] - t for d, t in alert_sent.items() if d in alert_seen]
            missing = len(alert_sent) - len(alert_lat)
            achieved = accepted / sent_for
            lag = len(everything) + accepted - (await client.get(scoring_ready)).json().get("events", 0)
            note = (
                f"{achieved:,.0f} events/s accepted of {rate:,} offered for {sent_for:.0f}s, exactly_once={str(eos).lower()}, "
                f"worker {lag:,} events behind at the end"
            )
            report.add(Row("freshness 2xx->deal card p50", pct(card_lat, 50) * 1000, "ms", note=note))
            report.add(Row("freshness 2xx->deal card p95", pct(card_lat, 95) * 1000, "ms"))
            report.add(
                Row(
                    "freshness 2xx->deal card p99",
                    pct(card_lat, 99) * 1000,
                    "ms",
                    note=f"{len(card_lat)} probes, GET /v1/deals/<id> polled every 25 ms; {cpu_note}",
                )
            )
            report.add(Row("freshness discount 2xx->SSE alert p50", pct(alert_lat, 50) * 1000, "ms", note=note))
            report.add(Row("freshness discount 2xx->SSE alert p95", pct(alert_lat, 95) * 1000, "ms"))
            report.add(
                Row(
                    "freshness discount 2xx->SSE alert p99",
                    pct(alert_lat, 99) * 1000,
                    "ms",
                    note=f"{len(alert_lat)} probes via GET /v1/alerts/stream, {missing} missing, {skipped} sends skipped",
                )
            )
    finally:
        for p in reversed(procs):
            p.stop()


# ---------------------------------------------------------------------------- main

QUICK = {
    "sizes": [10_000, 100_000],
    "eos_off_at": [100_000],
    "ingest_deals": 20_000,
    "ingest_single": 3_000,
    "ingest_conc_500": 4,
    "ingest_conc_1": 32,
    "fold_timeout": 900,
    "review_seconds": 4,
    "review_conc": 8,
    "fresh_seconds": 15,
    "fresh_rate": 1000,
    "scale_deals": 40_000,
    # The quix-streams peer folds at 10k in make bench (about a minute), 100k too in bench-full.
    "quix_sizes": [10_000],
    # Each fold of the quix section stops after this many seconds, so that the section stays
    # under 5 minutes at 100k on a loaded machine (the rates stand, the comparison is skipped).
    "quix_fold_cap": 135,
}
FULL = {
    **QUICK,
    "sizes": [10_000, 100_000, 1_000_000],
    "ingest_deals": 100_000,
    "ingest_single": 10_000,
    "fold_timeout": 3600,
    "review_seconds": 10,
    "fresh_seconds": 60,
    "quix_sizes": [10_000, 100_000],
    "quix_fold_cap": 3600,
}


async def main_async(args: argparse.Namespace) -> Report:
    cfg = dict(QUICK if args.quick else FULL)
    cfg["profile"] = args.profile
    cfg["stores"] = [store for store in args.stores.split(",") if store]
    cfg["fresh_exactly_once"] = not args.fresh_at_least_once
    if args.fresh_rate:
        cfg["fresh_rate"] = args.fresh_rate
    if args.fresh_seconds:
        cfg["fresh_seconds"] = args.fresh_seconds
    if args.sizes:
        cfg["sizes"] = cfg["quix_sizes"] = [int(s) for s in args.sizes.split(",")]
    # Scale-out starts and kills several workers (about 10 minutes here): bench-full, or --only scaleout.
    default = {"ingest", "scoring", "review", "fresh", "quix"} | (set() if args.quick else {"scaleout"})
    only = set(args.only.split(",")) if args.only else default
    report = Report("quick" if args.quick else "full", args.label)
    infra = Infra(Path(args.state_dir), args.kafka_port, args.redis_port)
    run = "b" + time.strftime("%m%d%H%M%S")
    logs = Path(args.state_dir) / "bench-logs" / run
    infra.up()
    try:
        if "ingest" in only:
            await bench_ingest(infra, run, cfg, report, logs)
        if "scoring" in only or "review" in only:
            for n in cfg["sizes"]:

                async def review_after(rp: str, size: str) -> None:
                    if "review" in only:
                        await bench_review(infra, rp, size, cfg, report, logs)

                await bench_scoring(infra, run, n, cfg, report, logs, review_after)
                cleanup_redis(infra, f"{run}s{n}")
        if "fresh" in only:
            await bench_freshness(infra, run, cfg, report, logs)
        if "scaleout" in only:
            await bench_scaleout(infra, run, cfg, report, logs)
        if "quix" in only:
            for n in cfg["quix_sizes"]:
                await bench_quix(infra, run, n, cfg, report, logs)
                cleanup_redis(infra, f"{run}q{n}")
    finally:
        drop_topics(infra, run)
        for stage in ("ing", "fresh"):
            cleanup_redis(infra, f"{run}{stage}")
        if not args.keep_infra:
            infra.down()
    return report


def drop_topics(infra: Infra, run: str) -> None:
    """Delete this run's topics (events, alerts, changelogs) so the bench broker's disk does not grow run after run."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=infra.bootstrap, client_id="bench-cleanup")
        # quix-streams names its changelogs changelog__<consumer group>--<topic>--<store>.
        mine = [t for t in admin.list_topics() if t.startswith((run, f"changelog__{run}"))]
        if mine:
            admin.delete_topics(mine)
        admin.close()
        log(f"deleted {len(mine)} topics of run {run}")
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the results
        log(f"could not delete the topics of run {run}: {exc!r}")


def cleanup_redis(infra: Infra, prefix: str) -> None:
    """Drop a stage's read model so Redis memory does not add up across sizes."""
    import redis

    client = redis.Redis.from_url(infra.redis_url)
    for pattern in (f"{prefix}:*", f"{prefix}x:*"):
        batch = []
        for key in client.scan_iter(pattern, count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k deals, short runs (a few minutes)")
    parser.add_argument("--only", default="", help="comma list of: ingest, scoring, review, fresh, scaleout, quix")
    parser.add_argument("--sizes", default="", help="deal counts for scoring/review/quix, e.g. 10000,100000")
    parser.add_argument("--label", default="", help="free text stored with the results (e.g. before/after)")
    parser.add_argument("--state-dir", default=os.environ.get("PR_BENCH_STATE_DIR", "/tmp/pr-bench"))
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("PR_BENCH_KAFKA_PORT", "27092")))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("PR_BENCH_REDIS_PORT", "27379")))
    parser.add_argument("--fresh-rate", type=int, default=0, help="events/s of the freshness load (default 1000)")
    parser.add_argument(
        "--fresh-seconds", type=int, default=0, help="seconds of freshness load (default 15 quick, 60 full)"
    )
    parser.add_argument("--fresh-at-least-once", action="store_true", help="freshness with exactly_once=false")
    parser.add_argument("--profile", action="store_true", help="sample the scoring worker with py-spy (bench-logs/)")
    parser.add_argument(
        "--stores",
        default="rocksdb",
        help="comma list of deal-table stores to fold with (PR_SCORING_STORE): rocksdb, memory",
    )
    parser.add_argument("--keep-infra", action="store_true", help="leave Kafka and Redis running afterwards")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(report.table())


if __name__ == "__main__":
    main()
