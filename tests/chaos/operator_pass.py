"""The operator's pass on a running `make up` stack: kill -9 the broker, Redis and the worker under load.

    PR_CHAOS_INGEST_API_KEY=<ingest key> PR_OPERATOR_REVIEW_API_KEY=<review key> \\
        .venv/bin/python -m tests.chaos.operator_pass [--rate 30] [--between 20]

Unlike `make chaos`, which starts a private Kafka, Redis and services of its own, this runs
against the stack `make up` started (ports PR_INGEST_PORT, PR_REVIEW_PORT, PR_SCORING_WEB_PORT,
PR_KAFKA_PORT, PR_REDIS_PORT, state PR_STATE_DIR, defaults as `make up`), with the keys it was
started with, and restarts what it kills the way an operator would: `deploy/kafka.sh start`,
`deploy/redis.sh start`, and for the worker nothing (the stack's supervisor restarts it).

While the chaos harness's load generator posts late-stage deals (and a discount for every fifth
one acknowledged), it kills the broker for ``--down`` seconds, then Redis, then the scoring
worker, ``--between`` seconds apart. Then it waits until every acknowledged deal has its card
and every acknowledged discount is in the alert feed exactly once. It exits 1 when anything
acknowledged is missing or doubled, and prints what it measured. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.chaos.harness import ROOT, Infra, LoadGenerator

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


class RunningStack:
    """The URLs, key and state of the running `make up` stack."""

    def __init__(self) -> None:
        env = os.environ.get
        self.ingest = f"http://127.0.0.1:{env('PR_INGEST_PORT', '8001')}"
        self.review = f"http://127.0.0.1:{env('PR_REVIEW_PORT', '8002')}"
        self.scoring = f"http://127.0.0.1:{env('PR_SCORING_WEB_PORT', '8003')}"
        key = env("PR_OPERATOR_REVIEW_API_KEY")
        self.review_headers = {"X-API-Key": key} if key else {}
        self.state_dir = Path(env("PR_STATE_DIR", str(ROOT / ".run")))
        kafka_port = int(env("PR_KAFKA_PORT", "9092"))
        self.infra = Infra(
            state_dir=self.state_dir,
            kafka_port=kafka_port,
            controller_port=int(env("PR_KAFKA_CONTROLLER_PORT", str(kafka_port + 1))),
            redis_port=int(env("PR_REDIS_PORT", "6379")),
        )

    async def all_ready(self) -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            for url in (self.ingest, self.scoring, self.review):
                try:
                    if (await client.get(f"{url}/readyz")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True

    async def wait_ready(self, after: str, since: float, timeout: float = 180) -> float:
        while time.monotonic() - since < timeout:
            if await self.all_ready():
                took = time.monotonic() - since
                say(f"{after}: ingest, scoring and review ready {took:.1f} s after the restart began")
                return took
            await asyncio.sleep(0.5)
        raise SystemExit(f"{after}: the stack was not ready within {timeout:.0f} s")

    async def cards(self, deal_ids: set[str]) -> set[str]:
        """The deals among ``deal_ids`` whose card review serves."""
        semaphore = asyncio.Semaphore(20)
        async with httpx.AsyncClient(timeout=10, headers=self.review_headers) as client:

            async def card(deal_id: str) -> str | None:
                async with semaphore:
                    try:
                        answer = await client.get(f"{self.review}/v1/deals/{deal_id}")
                    except httpx.HTTPError:
                        return None
                    return deal_id if answer.status_code == 200 else None

            return {d for d in await asyncio.gather(*(card(d) for d in deal_ids)) if d}

    async def discount_alerts(self) -> Counter:
        """How many times each deal is in the late-stage discount feed (every page)."""
        seen: Counter = Counter()
        cursor = None
        async with httpx.AsyncClient(timeout=10, headers=self.review_headers) as client:
            while True:
                params = {"limit": 500, "kind": "late_stage_discount"} | ({"cursor": cursor} if cursor else {})
                answer = await client.get(f"{self.review}/v1/alerts", params=params)
                answer.raise_for_status()
                page = answer.json()
                seen.update(item["deal_id"] for item in page["items"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return seen


async def run(stack: RunningStack, rate: float, between: float, down: float, settle_timeout: float) -> int:
    if not await stack.all_ready():
        raise SystemExit("the stack is not ready: start it with `make up` first")
    tag = f"op{int(time.time())}"
    load = LoadGenerator(stack.ingest, rate=rate, run_tag=tag)
    runner = asyncio.create_task(load.run())
    say(f"load: {rate:g} late-stage deals/s, run tag {tag}")
    await asyncio.sleep(between)

    say(f"kill -9 the broker; down for {down:g} s")
    stack.infra.kill_kafka()
    await asyncio.sleep(down)
    since = time.monotonic()
    await asyncio.to_thread(stack.infra.start_kafka)
    await stack.wait_ready("broker restarted", since)
    await asyncio.sleep(between)

    say("kill -9 Redis; down for 5 s")
    stack.infra.kill_redis()
    await asyncio.sleep(5)
    since = time.monotonic()
    await asyncio.to_thread(stack.infra.start_redis)
    await stack.wait_ready("Redis restarted from its AOF", since)
    await asyncio.sleep(between)

    worker = int((stack.state_dir / "pids" / "scoring.pid").read_text())
    say(f"kill -9 the scoring worker (pid {worker}); the supervisor restarts it")
    os.kill(worker, signal.SIGKILL)
    since = time.monotonic()
    await asyncio.sleep(2)
    await stack.wait_ready("worker restarted", since)
    await asyncio.sleep(between)

    load.stop()
    await runner
    answers = Counter((p.kind, p.status) for p in load.record.posted)
    retry_after = Counter(p.retry_after for p in load.record.posted if p.status == 503)
    say(f"load stopped; answers (kind, status): {dict(answers)}; Retry-After on 503s: {dict(retry_after)}")
    created, discounts = load.record.acknowledged("created"), load.record.acknowledged("discount")
    if not created:
        raise SystemExit("ingest acknowledged nothing: is PR_CHAOS_INGEST_API_KEY one of its keys?")

    stopped = time.monotonic()
    while True:
        missing_cards = created - await stack.cards(created)
        alerts = {d: n for d, n in (await stack.discount_alerts()).items() if d.startswith(f"api:{tag}-")}
        missing_alerts = discounts - set(alerts)
        if not (missing_cards or missing_alerts) or time.monotonic() - stopped > settle_timeout:
            break
        await asyncio.sleep(3)
    doubled = {d for d, n in alerts.items() if n > 1}
    unasked = set(alerts) - discounts
    say(
        f"after {time.monotonic() - stopped:.1f} s: {len(created)} acknowledged deals, {len(missing_cards)} without a card; "
        f"{len(discounts)} acknowledged discounts, {len(missing_alerts)} without an alert, {len(doubled)} alerted twice, "
        f"{len(unasked)} alerts for a discount ingest did not acknowledge"
    )
    lost = missing_cards | missing_alerts | doubled
    if lost:
        say(f"FAIL, e.g. {sorted(lost)[:5]}")
        return 1
    say("pass: nothing acknowledged lost or doubled")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30, help="late-stage deals posted a second")
    parser.add_argument("--between", type=float, default=20, help="seconds of load before, between and after faults")
    parser.add_argument("--down", type=float, default=10, help="seconds the broker stays down")
    parser.add_argument("--settle-timeout", type=float, default=180)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(RunningStack(), args.rate, args.between, args.down, args.settle_timeout)))


if __name__ == "__main__":
    main()
