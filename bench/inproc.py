"""Our own fold code in-process: CPU µs per event of DealProcessor, and what it produced.

    .venv/bin/python bench/inproc.py --redis redis://127.0.0.1:6379/0 [--deals 20000] [--profile N]
    .venv/bin/python bench/inproc.py --root /path/to/another/checkout ...   # the same, on other code

The bench workload (bench/run.py's ``workload``) folded by ``DealProcessor`` in batches of 500,
as the worker hands them over, with a plain dict for the table and the real Redis, no Kafka and
no faust: what is timed is our code (decoding, folding, alerts, ``place``, state encode/decode)
and redis-py's share of the read-model write. The clock is fixed, so two checkouts folding the
same workload on the same day (and hash seed, which the script fixes) must print the same fingerprint (a hash of every alert and every
key the read model holds): a change that is meant to be faster only must not move it.
``--profile N`` prints cProfile's top N functions by their own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import hashlib
import importlib
import os
import pstats
import sys
import time
from pathlib import Path

BATCH = 500
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)  # fixed: the same stalls, flows and quarters every run


async def fingerprint(redis, prefix: str, alerts: list[bytes]) -> str:
    """A hash of the alerts and of every key under ``prefix`` (card JSON, sorted-set members and scores, hashes)."""
    digest = hashlib.sha256()
    for record in alerts:
        digest.update(record)
    keys = sorted([key async for key in redis.scan_iter(f"{prefix}:*", count=1000)])
    for key in keys:
        kind = (await redis.type(key)).decode()
        digest.update(key + kind.encode())
        if kind == "string":
            digest.update(await redis.get(key))
        elif kind == "zset":
            for member, score in await redis.zrange(key, 0, -1, withscores=True):
                digest.update(member + repr(score).encode())
        elif kind == "hash":
            for field, value in sorted((await redis.hgetall(key)).items()):
                digest.update(field + value)
        else:
            digest.update(repr(await redis.dump(key)).encode())
    return f"{digest.hexdigest()[:16]} ({len(keys):,} keys, {len(alerts):,} alerts)"


async def main(args: argparse.Namespace) -> None:
    import redis.asyncio as aioredis

    processor_mod = importlib.import_module("services.scoring.processor")
    from run import workload  # the bench's own workload, from this checkout's bench/

    from services.shared.keys import RedisKeys
    from services.shared.settings import DEFAULT_STAGE_MAP
    from services.shared.stages import StageMap

    records = [value for _key, value in workload("inproc", args.deals)]
    redis = aioredis.Redis.from_url(args.redis)
    prefix = args.prefix  # fixed, since the card JSON names its sorted sets: the fingerprint depends on it
    async for key in redis.scan_iter(f"{prefix}:*", count=1000):
        await redis.delete(key)
    alerts: list[bytes] = []

    async def sink(alert) -> None:
        alerts.append(alert.record())

    processor = processor_mod.DealProcessor(
        {}, redis, RedisKeys(prefix), StageMap.load(DEFAULT_STAGE_MAP), sink, clock=lambda: NOW, partitions=6
    )
    profile = cProfile.Profile() if args.profile else None
    collecting: dict[int, float] = {}
    gc_seconds = [0.0, 0.0, 0.0]  # per generation

    def gc_timer(phase: str, info: dict) -> None:
        if phase == "start":
            collecting[info["generation"]] = time.process_time()
        else:
            gc_seconds[info["generation"]] += time.process_time() - collecting.pop(
                info["generation"], time.process_time()
            )

    gc.callbacks.append(gc_timer)
    if args.gc_freeze:
        gc.freeze()
    if args.gc_threshold:
        gc.set_threshold(*(int(n) for n in args.gc_threshold.split(",")))
    try:
        cpu = 0.0
        for start in range(0, len(records), BATCH):
            batch = records[start : start + BATCH]
            began = time.process_time()
            if profile:
                profile.enable()
            await processor.process(batch)
            if profile:
                profile.disable()
            cpu += time.process_time() - began
        gc.callbacks.remove(gc_timer)
        per_gen = ", ".join(f"{seconds / len(records) * 1e6:.1f}" for seconds in gc_seconds)
        print(
            f"{len(records):,} events, {cpu / len(records) * 1e6:.1f} µs CPU per event"
            f" (of which the cyclic GC, generations 0, 1, 2: {per_gen}; root {args.root})"
        )
        print(f"fingerprint {await fingerprint(redis, prefix, alerts)}")
        if profile:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.profile)
    finally:
        async for key in redis.scan_iter(f"{prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Some card fields and orders come from iterating sets of strings: one hash seed for every
        # run, so that the fingerprints of two checkouts compare byte for byte.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", required=True, help="a Redis URL (keys under --prefix, removed before and after)")
    parser.add_argument("--prefix", default="inproc", help="the read model's key prefix (its keys are removed first)")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's top N functions")
    parser.add_argument("--sort", default="tottime", help="cProfile's order: tottime (own time) or cumulative")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() before the first batch")
    parser.add_argument(
        "--gc-threshold", default="", metavar="G0,G1,G2", help="gc.set_threshold before the first batch"
    )
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="the checkout to run")
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.root)
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    asyncio.run(main(arguments))
