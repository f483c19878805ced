"""A peer of the scoring worker: the same fold as a quix-streams application (issue 14, section 4).

A baseline for bench/run.py's ``quix`` section, not a product path. It consumes deal-events with
quix-streams' exactly-once guarantee (Kafka transactions: state changelog, alerts and offsets
commit together), keeps each deal's state in quix's default store (RocksDB, with its changelog
topic), and does the worker's per-event work with the same code:

- decode the event (services.shared.events.decode_event) and skip an invalid one;
- fold it into the deal's state (services.domain.state.apply_event, in place on a fresh copy);
- raise the discount, movement and already-stalled alerts (services.domain.alerts/movement),
  produced to deal-alerts keyed by the deal, in the checkpoint's transaction;
- place the deal (services.domain.lists.place) and write the Redis read model with the worker's
  own write_placements (services/scoring/read_model.py), driven synchronously, one MGET and one
  script per 500 placements, like the worker's batch of 500.

What differs from the worker (docs/benchmarks.md says the same):

- quix folds one event at a time: its state API is per message key, so a deal's state is read,
  decoded, encoded and written per event; the worker loads a deal once per batch of 500 and
  writes one changelog record per deal per batch. With ~1.5 events per deal the difference is small.
- The state goes through quix's serializer (orjson of DealState.to_dict(); DealState.from_dict on
  the way back), which is the same work as DealState.encode/decode.
- Redis is written by a quix sink: placements gather per checkpoint (commit_interval, the
  worker's 0.2 s) and are written every 500 and at the checkpoint, before its commit, as the
  worker writes each batch before its transaction commits. A deal folded twice between two
  writes is placed once, with its later state, as in the worker's batch.
- Not here: the worker's stall timer and stall-check agent, the deleted-deal sweep, the Redis
  outage guard (retries, repair after a wipe), the Prometheus metrics, tracing and the
  committed-store view of RocksDB. None of them does work per event in this workload, beyond the
  guard's retry wrapper and the metrics' per-batch observation.

Run by bench/run.py with the venv of bench/quix-venv.sh (quixstreams pins an older pydantic than
the project): PR_KAFKA_BOOTSTRAP, PR_REDIS_URL, PR_TOPIC_PREFIX, PR_REDIS_PREFIX as for the
worker, and BENCH_APP_ID (consumer group), BENCH_PORT (/healthz, /readyz with the event count),
BENCH_STATE_DIR (RocksDB), optionally BENCH_ALERTS_TOPIC (default: deal-alerts).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from quixstreams import Application, State  # noqa: E402
from quixstreams.sinks import BaseSink  # noqa: E402

from services.domain.alerts import discount_alert  # noqa: E402
from services.domain.lists import place  # noqa: E402
from services.domain.movement import mark_stall_alerted, movement_alerts, stalled_alert  # noqa: E402
from services.domain.state import DealState, apply_event  # noqa: E402
from services.scoring.processor import utc_now  # noqa: E402
from services.scoring.read_model import write_placements  # noqa: E402
from services.shared.alerts import Alert  # noqa: E402
from services.shared.events import decode_event  # noqa: E402
from services.shared.settings import CommonSettings  # noqa: E402
from services.shared.stages import StageMap  # noqa: E402

log = logging.getLogger("quix_fold")

BATCH = 500  # placements per Redis write: the worker's PR_SCORING_BATCH_SIZE default
COMMIT_INTERVAL = 0.2  # the worker's PR_SCORING_COMMIT_INTERVAL default
STATE_KEY = "deal"


class SyncRedis:
    """The two calls write_placements makes, on a synchronous redis-py client.

    The coroutine it returns never suspends, so run_now() drives it to the end in one step: the
    worker's code runs unchanged without an event loop.
    """

    def __init__(self, client: redis.Redis):
        self.client = client

    async def mget(self, keys):
        return self.client.mget(keys)

    def register_script(self, source: str):
        script = self.client.register_script(source)

        async def call(keys, args):
            return script(keys=keys, args=args)

        return call


def run_now(coro):
    """Run a coroutine that never awaits anything pending; its return value."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the coroutine suspended: it is not synchronous")


class ReadModelSink(BaseSink):
    """Writes each folded deal's placement into Redis, BATCH at a time and at every checkpoint."""

    def __init__(self, client: redis.Redis, common: CommonSettings, stage_map: StageMap, progress: dict):
        super().__init__()
        self.redis = SyncRedis(client)
        self.keys = common.keys
        self.partitions = common.deal_event_partitions
        self.stage_map = stage_map
        self.progress = progress
        self.pending: dict[str, DealState] = {}  # deal id -> its latest state, in first-seen order
        self.events = 0  # events behind self.pending

    def collect(self, state: DealState) -> None:
        """A folded deal's state, to place at the next write."""
        self.pending[state.deal_id] = state
        self.events += 1
        if len(self.pending) >= BATCH:
            self.flush()

    def add(self, value, key, timestamp, headers, topic, partition, offset):
        pass  # the alert records at the end of the chain: already on their topic

    def flush(self):
        if not self.pending:
            return
        now = utc_now()
        placements = {deal_id: place(state, self.stage_map, now) for deal_id, state in self.pending.items()}
        run_now(write_placements(self.redis, self.keys, placements, partitions=self.partitions))
        self.progress["events"] += self.events
        self.progress["batches"] += 1
        self.pending.clear()
        self.events = 0


def build(common: CommonSettings, app_id: str, state_dir: str, progress: dict) -> Application:
    stage_map = StageMap.load(common.stage_map_file)
    app = Application(
        broker_address=common.kafka_bootstrap,
        consumer_group=app_id,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=COMMIT_INTERVAL,
        state_dir=state_dir,
        loglevel="WARNING",
    )
    events = app.topic(common.deal_events_topic, key_deserializer="bytes", value_deserializer="bytes")
    # bench/run.py gives the peer an alerts topic of its own, to compare its alerts with the worker's.
    alerts = app.topic(
        os.environ.get("BENCH_ALERTS_TOPIC", common.deal_alerts_topic), key_serializer="bytes", value_serializer="bytes"
    )

    def fold(raw: bytes, state: State):
        """One event into its deal's state; (the deal's state, the alerts it raised) or None."""
        try:
            event = decode_event(raw)
        except (ValidationError, ValueError) as exc:
            progress["invalid"] += 1
            log.warning("skipping an invalid event on deal-events: %s", str(exc)[:300])
            return None
        stored = state.get(STATE_KEY)
        deal = DealState.from_dict(stored) if stored else None
        applied = apply_event(deal, event, stage_map, in_place=True)
        raised: list[Alert] = []
        if not applied.duplicate:
            alert = discount_alert(event, applied.state, stage_map)
            if alert is not None:
                raised.append(alert)
            raised.extend(Alert(**a) for a in movement_alerts(event, applied.state, stage_map))
            stalled = stalled_alert(applied.state, stage_map, utc_now())
            if stalled is not None:
                mark_stall_alerted(applied.state)
                raised.append(Alert(**stalled))
            state.set(STATE_KEY, applied.state.to_dict())
        # A duplicate is placed again too, as the worker does (idempotent).
        return applied.state, raised

    read_model = ReadModelSink(redis.Redis.from_url(common.redis_url.get_secret_value()), common, stage_map, progress)
    # One chain, no branches: quix copies a branched value for each branch (a pickle round trip
    # per event, 10 % of the peer's CPU in a first profile). So the state goes to the read model
    # by a side effect in the chain, the alerts continue to their topic (keyed by the event's key,
    # the deal id, as the worker keys them), and the sink at the end of the chain is there for
    # quix to flush it at every checkpoint (it ignores the alert records it is handed).
    (
        app.dataframe(events)
        .apply(fold, stateful=True)
        .filter(lambda out: out is not None)
        .update(lambda out: read_model.collect(out[0]))
        .apply(lambda out: [a.record() for a in out[1]], expand=True)
        .to_topic(alerts)
        .sink(read_model)
    )
    return app


def serve(port: int, progress: dict) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps({"status": "ok"} if self.path == "/healthz" else progress).encode()
            self.send_response(200 if self.path in ("/healthz", "/readyz") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    progress = {"events": 0, "batches": 0, "invalid": 0}
    app = build(CommonSettings(), os.environ["BENCH_APP_ID"], os.environ["BENCH_STATE_DIR"], progress)
    serve(int(os.environ["BENCH_PORT"]), progress)
    app.run()


if __name__ == "__main__":
    main()
