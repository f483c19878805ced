"""`make chaos`: the long version of every fault scenario, and the table of docs/reliability.md.

    .venv/bin/python -m tests.chaos.run [--only broker-kill] [--no-docs]

Each scenario gets a fresh private Kafka and Redis (PR_CHAOS_* ports, never the suite's or
`make up`'s) and its own ingest, scoring and review. Results are appended to
PR_CHAOS_RESULTS as JSON lines; the table between the markers of docs/reliability.md is
rewritten from this run's rows, with the command and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.chaos.cluster import cluster_leader_kill_scenario
from tests.chaos.harness import (
    ROOT,
    Figures,
    Infra,
    Stack,
    broker_kill_scenario,
    rebalance_storm_scenario,
    redis_fault_scenario,
    results_path,
)
from tests.chaos.network import ProxiedInfra, network_fault_scenario, network_stack

START, END = "<!-- chaos-table:start -->", "<!-- chaos-table:end -->"
DOC = ROOT / "docs" / "reliability.md"


async def broker_kill_long(infra: Infra, stack: Stack) -> Figures:
    """The operator's observation of 2026-12-01: 50 deals/s, broker down 25 s."""
    return await broker_kill_scenario(
        infra, stack, load_before=20, down_for=25, load_after=20, rate=50, heal_timeout=120, results=results_path()
    )


async def network_faults_long(infra: ProxiedInfra, stack: Stack) -> Figures:
    """Issue 13 scenario 4: 500 ms latency, connection resets, a 30 s partition, a 20 s blackhole, to Kafka,
    Redis and the stream clients at once."""
    return await network_fault_scenario(
        infra,
        stack,
        faults=[("latency", 20), ("reset", 20), ("partition", 30), ("blackhole", 20)],
        warmup=15,
        between=10,
        load_after=15,
        rate=20,
        heal_timeout=180,
        results=results_path(),
    )


network_faults_long.stack_factory = network_stack  # review delivers webhooks to loopback


async def cluster_leader_kill_long(infra: Infra, stack: Stack) -> Figures:
    """Three nodes, 30 deals/s, the deal-events leader down 25 s (three JVMs on a small machine: a lower rate)."""
    return await cluster_leader_kill_scenario(
        infra, stack, load_before=20, down_for=25, load_after=20, rate=30, heal_timeout=120, results=results_path()
    )


async def redis_kill_long(infra: Infra, stack: Stack) -> Figures:
    """Redis killed (-9) under 50 deals/s and restarted from its append-only file 5 s later."""
    return await redis_fault_scenario(
        infra,
        stack,
        fault="kill",
        load_before=20,
        down_for=5,
        load_after=30,
        rate=50,
        heal_timeout=120,
        results=results_path(),
    )


async def redis_flushall_long(infra: Infra, stack: Stack) -> Figures:
    """Redis wiped (FLUSHALL) under 50 deals/s: the worker rewrites its partitions by itself."""
    return await redis_fault_scenario(
        infra,
        stack,
        fault="flushall",
        load_before=20,
        down_for=0,
        load_after=30,
        rate=50,
        heal_timeout=120,
        results=results_path(),
    )


async def rebalance_storm_long(infra: Infra, stack: Stack) -> Figures:
    """Extra scoring workers join and leave every 10 s for two minutes under 30 deals/s."""
    return await rebalance_storm_scenario(
        stack, storm_seconds=120, every=10, rate=30, heal_timeout=180, results=results_path()
    )


# name -> the long run. Other scenarios plug in here.
SCENARIOS: dict[str, Callable[[Infra, Stack], Awaitable[Figures]]] = {
    "broker-kill": broker_kill_long,
    "cluster-leader-kill": cluster_leader_kill_long,
    "redis-kill": redis_kill_long,
    "redis-flushall": redis_flushall_long,
    "network-faults": network_faults_long,
    "rebalance-storm": rebalance_storm_long,
}

# name -> the Kafka and Redis it needs, when not the single node of Infra.from_env.
SCENARIO_INFRA: dict[str, Callable[[], Infra]] = {
    "cluster-leader-kill": Infra.cluster_from_env,
    "network-faults": ProxiedInfra.from_env,  # its Kafka and Redis sit behind toxiproxy
}


def run_one(name: str) -> Figures:
    infra = SCENARIO_INFRA.get(name, Infra.from_env)()
    infra.start_fresh()
    try:
        stack = getattr(SCENARIOS[name], "stack_factory", Stack)(
            infra, Path(tempfile.mkdtemp(prefix=f"pr-chaos-{name}-"))
        )
        try:
            stack.start()
            return asyncio.run(SCENARIOS[name](infra, stack))
        finally:
            stack.stop()
    finally:
        infra.stop()


def passed(f: Figures) -> bool:
    return (
        f.lost == 0
        and f.alerts_missing == 0
        and f.duplicate_alerts == 0
        and not f.services_died
        and f.time_to_heal_s is not None
        and f.unanswered == 0
    )


def table(rows: list[Figures]) -> str:
    lines = [
        "| scenario | load | fault | events acknowledged | visible | lost | duplicate alerts | 503 answers | "
        "slowest answer | accepting again | time to heal | services died | ingest RSS before / peak | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in rows:
        again = f"{f.time_to_accept_again_s} s" if f.time_to_accept_again_s is not None else "never"
        heal = f"{f.time_to_heal_s} s" if f.time_to_heal_s is not None else "did not heal"
        rss = f"{f.ingest_rss_mb_before} / {f.ingest_rss_mb_peak} MB" if f.ingest_rss_mb_peak else "n/a"
        lines.append(
            f"| {f.scenario} | {f.load_deals_per_s:g} deals/s for {f.load_seconds:g} s ({f.requests} requests) "
            f"| {f.fault_seconds:g} s | {f.acknowledged} | {f.visible} | {f.lost} | {f.duplicate_alerts} "
            f"| {f.answered_503} | {f.slowest_answer_s} s | {again} | {heal} | {', '.join(f.services_died) or 'none'} "
            f"| {rss} | {'pass' if passed(f) else 'FAIL'} |"
        )
    return "\n".join(lines)


def write_doc(rows: list[Figures], command: str) -> None:
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"Run with `{command}` on {when}.\n\n{table(rows)}"
    DOC.write_text(f"{head}{START}\n{block}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only these scenarios")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/reliability.md")
    args = parser.parse_args(argv)
    rows = []
    for name in args.only or list(SCENARIOS):
        print(f"[chaos] {name} ...", file=sys.stderr, flush=True)
        figures = run_one(name)
        print(f"[chaos] {name}: {figures}", file=sys.stderr, flush=True)
        rows.append(figures)
    print(table(rows))
    if not args.no_docs:
        write_doc(rows, "make chaos")
    return 0 if all(passed(f) for f in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
