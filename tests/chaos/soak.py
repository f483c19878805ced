"""`make soak`: a long steady load through the whole pipeline, watching memory, freshness and errors.

    .venv/bin/python -m tests.chaos.soak [--minutes 30] [--rate 200] [--no-docs]

Runs ingest, scoring and review as processes against a Kafka and a Redis of its own
(PR_SOAK_* ports, state PR_SOAK_STATE_DIR, wiped first) and posts ``--rate`` events a second
to ingest, one event per request, for ``--minutes``. The events update a fixed pool of deals
(so the state the services hold is bounded and any memory growth is theirs), with a
late-stage discount every hundredth event so the alert path runs too. Along the way it samples:

- the resident memory of the scoring worker, ingest and review every 10 s;
- freshness: for a few events a second, the time from ingest's 2xx to the deal card showing
  that event (polled every 50 ms), as p50/p99 per minute;
- errors: every non-2xx answer or unanswered request, and ERROR lines or tracebacks in the
  services' logs.

It passes when the rate held, memory stayed within 10 % after the warm-up, the per-minute p99
did not drift, nothing failed, and every deal's card ends with its last acknowledged state.
It writes a JSON report (PR_SOAK_REPORT) and the soak section of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import httpx

from tests.chaos.harness import ROOT, Infra, Stack, api_headers

START, END = "<!-- soak:start -->", "<!-- soak:end -->"
DOC = ROOT / "docs" / "reliability.md"
SERVICES = ("scoring", "ingest", "review")
IN_FLIGHT = 200  # requests the load generator has waiting for ingest at most (its connection pool)
LOG_ERROR = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")


def soak_infra() -> Infra:
    """The soak's own broker and Redis: not the suite's, not `make up`'s, not `make chaos`'s."""
    return Infra(
        state_dir=Path(os.environ.get("PR_SOAK_STATE_DIR", str(ROOT / ".run" / "soak"))),
        kafka_port=int(os.environ.get("PR_SOAK_KAFKA_PORT", "28692")),
        controller_port=int(os.environ.get("PR_SOAK_KAFKA_CONTROLLER_PORT", "28693")),
        redis_port=int(os.environ.get("PR_SOAK_REDIS_PORT", "28679")),
    )


def quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank quantile (no interpolation: p99 of 120 samples is a sample seen)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


@dataclass
class SoakReport:
    started_at: str
    minutes: float
    warmup_minutes: float
    target_events_per_s: float
    held_events_per_s: float
    generator_behind_s: float  # worst lag of the load generator behind its schedule (its own CPU)
    requests: int
    acknowledged: int
    non_2xx: dict[str, int]
    unanswered: int
    error_examples: list[str]
    log_errors: dict[str, int]
    log_error_examples: list[str]
    deals: int
    deals_stale_at_end: int
    stale_examples: list[str]
    freshness_samples: int
    freshness_timeouts: int
    per_minute: list[dict]  # minute, events acknowledged, freshness p50/p99 (s)
    rss_mb: list[dict]  # t (s since start) and one value per service
    rss_growth_after_warmup: dict[str, float | None]  # highest later sample / the first ones after warm-up - 1
    p99_first_s: float | None  # mean per-minute p99 over the first minutes after warm-up
    p99_last_s: float | None  # ... and over the last minutes
    services_died: list[str]
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


class SoakLoad:
    """Posts event ``i`` at ``start + i / rate``: deal ``i % pool`` created once, then updated with amount ``i``."""

    def __init__(self, ingest_url: str, review_url: str, rate: float, pool: int, probes_per_s: float):
        self.ingest_url = ingest_url
        self.review_url = review_url
        self.rate = rate
        self.pool = pool
        self.probe_every = max(1, round(rate / probes_per_s))
        self.tag = f"soak{uuid.uuid4().hex[:6]}"
        self.started = 0.0
        self.answers: list[tuple[float, int | None]] = []  # (seconds since start, status)
        self.errors: list[str] = []
        self.last_acked: dict[str, int] = {}  # deal -> highest acknowledged event number
        self.freshness: list[tuple[float, float]] = []  # (acknowledged at, seconds to visible)
        self.freshness_timeouts = 0
        self.behind_s = 0.0  # how far the generator fell behind its schedule at worst
        self._stop = asyncio.Event()

    def deal_id(self, number: int) -> str:
        return f"api:{self.tag}-{number % self.pool:05}"

    def event(self, number: int) -> dict:
        deal_id = self.deal_id(number)
        at = dt.datetime.now(dt.UTC).isoformat()
        if number < self.pool:
            kind, changes = (
                "deal.created",
                {
                    "name": f"Soak {number}",
                    "account": f"Acct {number % 17}",
                    "owner_id": f"u{number % 5}",
                    "team": ["East", "West"][number % 2],
                    "manager_id": "m1",
                    "stage": "Negotiation/Review",
                    "amount": 10_000 + number,
                    "currency": "EUR",
                    "close_date": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
                },
            )
        elif number % 100 == 0:
            kind, changes = (
                "deal.discount_requested",
                {"discount_pct": 10, "discount_reason": "soak", "requested_by": "u1", "amount": 10_000 + number},
            )
        else:
            kind, changes = "deal.updated", {"amount": 10_000 + number}
        return {
            "event_id": f"{self.tag}-{number}",
            "source": "api",
            "deal_id": deal_id,
            "occurred_at": at,
            "type": kind,
            "changes": changes,
        }

    async def _probe(self, client: httpx.AsyncClient, deal_id: str, amount: int, acked_at: float) -> None:
        """Poll the card until it shows ``amount`` (or a later one): ingest's 2xx -> visible."""
        deadline = acked_at + 30
        while time.monotonic() < deadline:
            try:
                answer = await client.get(f"{self.review_url}/v1/deals/{deal_id}")
                if answer.status_code == 200 and (answer.json().get("amount") or 0) >= amount:
                    self.freshness.append((acked_at - self.started, time.monotonic() - acked_at))
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
        self.freshness_timeouts += 1

    async def _one(self, client: aiohttp.ClientSession, review: httpx.AsyncClient, number: int) -> None:
        body = self.event(number)
        try:
            async with client.post(f"{self.ingest_url}/v1/events", json=body, headers=api_headers()) as answer:
                status = answer.status
                if status >= 300:
                    self.errors.append(f"{status}: {(await answer.text())[:200]}")
                else:
                    await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = None
            self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        now = time.monotonic()
        self.answers.append((now - self.started, status))
        if status is not None and 200 <= status < 300:
            deal = body["deal_id"]
            self.last_acked[deal] = max(self.last_acked.get(deal, -1), number)
            if number >= self.pool and number % self.probe_every == 0:
                await self._probe(review, deal, 10_000 + number, now)

    async def run(self) -> None:
        tasks: set[asyncio.Task] = set()
        # aiohttp for the load: httpx's client costs about twice the CPU per request, and on a
        # shared two-core machine the generator itself could not keep 200 requests/s.
        # Idle connections are dropped after 2 s, before uvicorn closes them (5 s).
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=2.0)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client,
            httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=20)) as review,
        ):
            self.started = time.monotonic()
            count = 0
            in_flight = asyncio.Semaphore(IN_FLIGHT)
            while not self._stop.is_set():
                # At most IN_FLIGHT requests wait for ingest: a slower ingest shows as a lower rate
                # held and the generator behind its schedule, never as requests timing out in a queue.
                await in_flight.acquire()
                self.behind_s = max(self.behind_s, time.monotonic() - (self.started + count / self.rate))
                task = asyncio.create_task(self._one(client, review, count))
                task.add_done_callback(lambda _t: in_flight.release())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                count += 1
                try:
                    await asyncio.wait_for(
                        self._stop.wait(), max(self.started + count / self.rate - time.monotonic(), 0)
                    )
                except TimeoutError:
                    pass
            if tasks:
                await asyncio.gather(*tasks)

    def stop(self) -> None:
        self._stop.set()


async def stale_deals(review_url: str, last_acked: dict[str, int]) -> list[str]:
    """Deals whose card does not show their last acknowledged amount (the fold of what was acked)."""
    semaphore = asyncio.Semaphore(20)
    async with httpx.AsyncClient(timeout=10) as client:

        async def check(deal_id: str, number: int) -> str | None:
            async with semaphore:
                try:
                    answer = await client.get(f"{review_url}/v1/deals/{deal_id}")
                except httpx.HTTPError as exc:
                    return f"{deal_id}: {type(exc).__name__}"
                if answer.status_code != 200:
                    return f"{deal_id}: {answer.status_code}"
                amount = answer.json().get("amount")
                return None if amount == 10_000 + number else f"{deal_id}: amount {amount}, expected {10_000 + number}"

        return [s for s in await asyncio.gather(*(check(d, n) for d, n in last_acked.items())) if s]


def log_sizes(stack: Stack) -> dict[str, int]:
    return {s.name: s.log_path.stat().st_size if s.log_path.exists() else 0 for s in stack.services}


def log_errors(stack: Stack, since: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """ERROR lines and tracebacks written after ``since`` (each log's size when the load began)."""
    counts, examples = {}, []
    for service in stack.services:
        with service.log_path.open("rb") as log:
            log.seek(since.get(service.name, 0))
            text = log.read().decode(errors="replace")
        lines = [line for line in text.splitlines() if LOG_ERROR.search(line)]
        counts[service.name] = len(lines)
        examples += [f"{service.name}: {line[:200]}" for line in lines[:3]]
    return counts, examples


async def soak(
    stack: Stack, *, minutes: float, rate: float, pool: int, probes_per_s: float, sample_every: float = 10.0
) -> SoakReport:
    warmup = min(5.0, minutes / 3)
    load = SoakLoad(stack.url("ingest"), stack.url("review"), rate, pool, probes_per_s)
    pids_before = stack.pids()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rss: list[dict] = []
    # Errors while the fresh broker elects its group coordinator are startup, not soak: count from here.
    logs_at_start = log_sizes(stack)
    load_task = asyncio.create_task(load.run())
    t0 = time.monotonic()
    while time.monotonic() - t0 < minutes * 60:
        rss.append({"t": round(time.monotonic() - t0, 1)} | {name: stack.rss_mb(name) for name in SERVICES})
        print(f"[soak] t={rss[-1]['t']:.0f}s answered={len(load.answers)} rss={rss[-1]}", file=sys.stderr, flush=True)
        await asyncio.sleep(min(sample_every, max(0.0, minutes * 60 - (time.monotonic() - t0))))
    load.stop()
    await load_task
    elapsed = time.monotonic() - load.started
    await asyncio.sleep(5)  # the last events' way through the pipeline
    stale = await stale_deals(stack.url("review"), load.last_acked)
    if stale:  # one more chance: a loaded machine may still be folding
        await asyncio.sleep(15)
        stale = await stale_deals(stack.url("review"), load.last_acked)

    acked = [t for t, s in load.answers if s is not None and 200 <= s < 300]
    non_2xx: dict[str, int] = {}
    for _t, status in load.answers:
        if status is not None and not 200 <= status < 300:
            non_2xx[str(status)] = non_2xx.get(str(status), 0) + 1
    per_minute = []
    for minute in range(int(elapsed // 60) + (1 if elapsed % 60 > 1 else 0)):
        window = [s for t, s in load.freshness if minute * 60 <= t < (minute + 1) * 60]
        per_minute.append(
            {
                "minute": minute + 1,
                "acknowledged": sum(1 for t in acked if minute * 60 <= t < (minute + 1) * 60),
                "samples": len(window),
                "p50_s": quantile(window, 0.5),
                "p99_s": quantile(window, 0.99),
            }
        )

    after = [row for row in rss if row["t"] >= warmup * 60]
    growth: dict[str, float | None] = {}
    for name in SERVICES:
        values = [row[name] for row in after if row[name] is not None]
        base = sum(values[:3]) / len(values[:3]) if values else None
        growth[name] = round(max(values) / base - 1, 3) if base else None
    p99s = [row["p99_s"] for row in per_minute if row["minute"] > warmup and row["p99_s"] is not None]
    span = max(1, min(3, len(p99s) // 2))
    p99_first = sum(p99s[:span]) / span if p99s else None
    p99_last = sum(p99s[-span:]) / span if p99s else None
    counts, examples = log_errors(stack, logs_at_start)
    died = sorted(set(stack.dead()) | {n for n, pid in stack.pids().items() if pid != pids_before[n]})
    report = SoakReport(
        started_at=started_at,
        minutes=minutes,
        warmup_minutes=round(warmup, 2),
        target_events_per_s=rate,
        held_events_per_s=round(len(acked) / elapsed, 1),
        generator_behind_s=round(load.behind_s, 2),
        requests=len(load.answers),
        acknowledged=len(acked),
        non_2xx=non_2xx,
        unanswered=sum(1 for _t, s in load.answers if s is None),
        error_examples=sorted(set(load.errors))[:5],
        log_errors=counts,
        log_error_examples=examples,
        deals=len(load.last_acked),
        deals_stale_at_end=len(stale),
        stale_examples=stale[:5],
        freshness_samples=len(load.freshness),
        freshness_timeouts=load.freshness_timeouts,
        per_minute=per_minute,
        rss_mb=rss,
        rss_growth_after_warmup=growth,
        p99_first_s=round(p99_first, 3) if p99_first is not None else None,
        p99_last_s=round(p99_last, 3) if p99_last is not None else None,
        services_died=died,
    )
    report.checks = {
        "rate held (>= 95 % of the target)": report.held_events_per_s >= 0.95 * rate,
        "memory within 10 % after the warm-up": all(g is not None and g <= 0.10 for g in growth.values()),
        # Drift: the late p99 may exceed the early one by half, plus 50 ms of timer noise.
        "p99 not drifting": p99_first is not None and p99_last <= 1.5 * p99_first + 0.05,
        "no non-2xx, no unanswered request": not non_2xx and report.unanswered == 0,
        "no ERROR in the services' logs": not any(counts.values()),
        "every deal shows its last acknowledged state": not stale and report.freshness_timeouts == 0,
        "no service died": not died,
    }
    return report


def markdown(report: SoakReport, command: str) -> str:
    lines = [
        f"Run with `{command}` from {report.started_at}: {report.minutes:g} minutes at "
        f"{report.target_events_per_s:g} events/s asked, **{report.held_events_per_s:g} events/s held** "
        f"({report.acknowledged} acknowledged of {report.requests} requests, {report.deals} deals), "
        f"warm-up {report.warmup_minutes:g} min, the load generator at worst {report.generator_behind_s:g} s behind "
        f"its schedule. Result: **{'pass' if report.passed else 'FAIL'}**.",
        "",
    ]
    lines += [f"- {'pass' if ok else 'FAIL'}: {name}" for name, ok in report.checks.items()]
    growth = ", ".join(
        f"{n} {g * 100:+.1f} %" if g is not None else f"{n} n/a" for n, g in report.rss_growth_after_warmup.items()
    )
    first, last = report.rss_mb[0], report.rss_mb[-1]
    lines += [
        "",
        "Resident memory (MB), first sample / last sample: "
        + ", ".join(f"{n} {first[n]:.0f} / {last[n]:.0f}" for n in SERVICES if first[n] and last[n])
        + f"; highest after the warm-up against its first samples: {growth}.",
        f"Freshness (ingest's 2xx -> card shows the event): {report.freshness_samples} samples, "
        f"{report.freshness_timeouts} not visible within 30 s; per-minute p99 {report.p99_first_s} s just after "
        f"the warm-up, {report.p99_last_s} s at the end.",
        f"Errors: non-2xx {report.non_2xx or 'none'}, unanswered {report.unanswered}, "
        f"log ERROR lines {report.log_errors}; deals not showing their last state at the end: "
        f"{report.deals_stale_at_end}.",
        "",
        "| minute | events acknowledged | freshness samples | p50 | p99 |",
        "|---|---|---|---|---|",
    ]

    def fmt(v: float | None) -> str:
        return f"{v * 1000:.0f} ms" if v is not None else "n/a"

    for row in report.per_minute:
        lines.append(
            f"| {row['minute']} | {row['acknowledged']} | {row['samples']} | {fmt(row['p50_s'])} | {fmt(row['p99_s'])} |"
        )
    return "\n".join(lines)


def write_doc(report: SoakReport, command: str) -> None:
    text = DOC.read_text()
    if START not in text:
        text += f"\n## Soak: {int(report.minutes)} minutes of steady load (`make soak`)\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{markdown(report, command)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the load runs (default 30)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second asked of ingest (default 200)")
    # Small on purpose: a deal keeps its last 500 event ids and 200 timeline entries, so with 50
    # deals the state stops growing after 25,000 events (two or three minutes), inside the warm-up.
    parser.add_argument("--pool", type=int, default=50, help="how many deals the events update (default 50)")
    parser.add_argument("--probes", type=float, default=2.0, help="freshness probes per second (default 2)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the soak section of docs/reliability.md")
    args = parser.parse_args(argv)
    infra = soak_infra()
    infra.start_fresh()
    try:
        log_dir = Path(tempfile.mkdtemp(prefix="pr-soak-"))
        # Open mode limits each client address to 100 requests/s; the soak is one client asking for more.
        stack = Stack(infra, log_dir, service_env={"ingest": {"PR_INGEST_RATE_LIMIT": f"{int(args.rate * 10)}/second"}})
        try:
            stack.start()
            print(f"[soak] services up, logs in {log_dir}", file=sys.stderr, flush=True)
            report = asyncio.run(
                soak(stack, minutes=args.minutes, rate=args.rate, pool=args.pool, probes_per_s=args.probes)
            )
        finally:
            stack.stop()
    finally:
        infra.stop()
    out = Path(os.environ.get("PR_SOAK_REPORT", str(ROOT / ".run" / "soak" / "report.json")))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(report) | {"passed": report.passed}, indent=1))
    command = (
        "make soak"
        if args.minutes == 30 and args.rate == 200
        else f"python -m tests.chaos.soak --minutes {args.minutes:g} --rate {args.rate:g}"
    )
    print(markdown(report, command))
    print(f"[soak] report: {out}", file=sys.stderr)
    if not args.no_docs:
        write_doc(report, command)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
