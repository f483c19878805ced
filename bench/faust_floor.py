"""A second scoring baseline: a faust agent that only counts what it consumes.

Same broker settings and batch size as the scoring worker, no table, no decoding, no Redis:
the ratio of the worker to this is what folding, the changelog and the read model cost on
top of faust's own per-message machinery. Run by bench/run.py as a subprocess:

    BENCH_TOPIC=... BENCH_APP_ID=... BENCH_PORT=... BENCH_BOOTSTRAP=... python bench/faust_floor.py worker
"""

from __future__ import annotations

import os

import faust

app = faust.App(
    os.environ["BENCH_APP_ID"],
    broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ.get("BENCH_DATA_DIR", "/tmp/pr-bench-floor"),
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6,
    broker_heartbeat_interval=0.5,
    web_host="127.0.0.1",
    web_port=int(os.environ["BENCH_PORT"]),
    topic_replication_factor=1,
)
topic = app.topic(
    os.environ["BENCH_TOPIC"], key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
seen = {"events": 0}


@app.agent(topic)
async def count(stream):
    async for batch in stream.take(500, within=0.05):
        seen["events"] += len(batch)


@app.page("/healthz")
async def healthz(web, request):
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web, request):
    return web.json(seen)


if __name__ == "__main__":
    os.makedirs(app.conf.datadir, exist_ok=True)
    app.main()
