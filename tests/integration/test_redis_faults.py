"""Redis failing under load: killed (-9) and restarted from its append-only file, wiped (FLUSHALL),
and review's answers while it is unreachable.

Each load test runs its own Redis (deploy/redis.sh, on a free port) so it can be killed, a real
scoring worker, and the shared test Kafka. Events are posted at a steady rate straight to
deal-events; "acknowledged" means Kafka acknowledged the send. At the end the read model must
equal the fold of the acknowledged events, with the worker never restarted by hand.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from kafka.errors import KafkaError

from services.admin.topics import ensure_topics
from services.review.app import create_app
from services.review.settings import ReviewSettings
from services.shared.events import encode_event
from services.shared.settings import CommonSettings
from testkit.processes import Service, free_port
from tests.conftest import settings_env
from tests.helpers import wait_until
from tests.integration.test_scoring_worker import (
    STAGES,
    expected_snapshot,
    start_worker,
    wait_for_snapshot,
    worker_events,
)
from tests.workload import deal_stream, expected_alerts

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RATE = 150  # events per second


class OwnRedis:
    """A Redis of this test only, started by deploy/redis.sh (append-only file on), which it may kill."""

    def __init__(self, state_dir: Path, port: int):
        self.state_dir = state_dir
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        # Explicit: `make test` exports PR_STATE_DIR and PR_REDIS_PORT of the suite's own Redis.
        self.env = {**os.environ, "PR_STATE_DIR": str(state_dir), "PR_REDIS_PORT": str(port)}

    def _script(self, action: str) -> None:
        subprocess.run(
            [str(ROOT / "deploy" / "redis.sh"), action], env=self.env, check=True, capture_output=True, timeout=60
        )

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def kill(self) -> None:
        """kill -9: no shutdown, no final write of the append-only file."""
        pid = int((self.state_dir / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _alive(pid), timeout=10, what="redis to die")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class SteadyLoad(threading.Thread):
    """Sends events to deal-events at a steady rate; ``acked`` keeps those Kafka acknowledged, in order."""

    def __init__(self, settings: CommonSettings, events, rate: float = RATE):
        super().__init__(daemon=True)
        self.settings = settings
        self.events = events
        self.rate = rate
        self.acked: list = []
        self.failed = 0

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all", linger_ms=5)
        sent = []
        started = time.monotonic()
        for i, event in enumerate(self.events):
            pause = started + i / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent.append(
                (
                    event,
                    producer.send(
                        self.settings.deal_events_topic, key=event.deal_id.encode(), value=encode_event(event)
                    ),
                )
            )
        producer.flush(60)
        for event, future in sent:
            try:
                future.get(timeout=30)
                self.acked.append(event)
            except KafkaError:
                self.failed += 1
        producer.close()


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path / "redis-state", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(kafka_bootstrap, own_redis) -> CommonSettings:
    tag = uuid.uuid4().hex[:8]
    common = CommonSettings(
        kafka_bootstrap=kafka_bootstrap, redis_url=own_redis.url, topic_prefix=f"t{tag}-", redis_prefix=f"t{tag}"
    )
    ensure_topics(common)
    return common


def feed_alert_ids(server: OwnRedis, settings: CommonSettings) -> list[str]:
    """Every alert id in review's feed (the Redis stream), oldest first, duplicates kept."""
    with server.client() as client:
        return [json.loads(fields[b"alert"])["alert_id"] for _, fields in client.xrange(settings.keys.alerts_stream())]


def report(name: str, **figures) -> None:
    print(f"\n[redis-faults] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_redis_killed_and_restarted_from_its_aof_under_load(settings, own_redis, tmp_path):
    """kill -9 Redis under load, restart it 3 s later: nothing acknowledged is lost, no alert doubled,
    review answers 503 meanwhile and recovers, and the worker rides it out without a restart."""
    events = deal_stream(450, seed=31)
    worker = start_worker(settings, f"pr-scoring-{uuid.uuid4().hex[:6]}", tmp_path)
    review_port = free_port()
    review = Service(
        "review",
        settings_env(settings) | {"PR_REVIEW_PORT": str(review_port)},
        f"http://127.0.0.1:{review_port}/readyz",
        tmp_path,
    ).start()
    base = f"http://127.0.0.1:{review_port}"
    worker_pid = worker.process.pid
    load = SteadyLoad(settings, events)
    try:
        load.start()
        wait_until(
            lambda: worker_events(worker) > len(events) // 4,
            timeout=60,
            interval=0.1,
            what="the worker to fold a quarter of the load",
        )
        own_redis.kill()
        asked = time.monotonic()
        answer = httpx.get(f"{base}/v1/lists/leader", timeout=15)
        answered_in = time.monotonic() - asked
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["Retry-After"]) > 0
        assert "Redis" in answer.json()["detail"]
        assert answered_in < 5, f"review took {answered_in:.1f}s to say Redis is down"
        assert httpx.get(f"{base}/readyz", timeout=15).status_code == 503
        time.sleep(max(0.0, 3 - (time.monotonic() - asked)))
        own_redis.start()
        restarted = time.monotonic()
        load.join(timeout=120)
        assert not load.is_alive(), "the load did not finish"
        load_done = time.monotonic()
        expected = expected_snapshot(settings, load.acked)
        wait_for_snapshot(settings, expected, timeout=60)
        healed_in, after_load = time.monotonic() - restarted, time.monotonic() - load_done
        assert worker.process.poll() is None and worker.process.pid == worker_pid, "the worker was not restarted"
        expected_ids = expected_alerts(load.acked, STAGES)
        wait_until(
            lambda: len(feed_alert_ids(own_redis, settings)) >= len(expected_ids),
            timeout=30,
            what="every alert in review's feed",
        )
        feed = feed_alert_ids(own_redis, settings)
        assert sorted(feed) == sorted(expected_ids), "each discount request is in the feed exactly once"
        wait_until(
            lambda: httpx.get(f"{base}/v1/lists/leader", timeout=5).status_code == 200,
            timeout=20,
            what="review to answer again by itself",
        )
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        log = worker.log_path.read_text(errors="replace")
        assert log.count("Redis unreachable") == 1, "the outage is logged once, not per event"
        assert "Traceback" not in log, worker.tail(60)
        deals = len({e.deal_id for e in load.acked})
        report(
            "kill -9 + AOF restart",
            events_acked=len(load.acked),
            send_failures=load.failed,
            deals=deals,
            deals_visible=sum(1 for k in expected if ":deal:" in k),
            lost=0,
            alerts=len(feed),
            duplicate_alerts=len(feed) - len(set(feed)),
            review_503_in=f"{answered_in:.2f}s",
            healed_in=f"{healed_in:.1f}s after the restart, {after_load:.1f}s after the load ended",
            status=httpx.get(worker.ready_url, timeout=5).json(),
        )
    finally:
        load.join(timeout=60)
        review.stop()
        worker.stop()


def test_flushall_under_load_is_repaired_by_the_worker(settings, own_redis, tmp_path):
    """FLUSHALL mid-load, then again when idle: the worker notices its marks are gone and rewrites
    its partitions by itself."""
    events = deal_stream(300, seed=32)
    worker = start_worker(settings, f"pr-scoring-{uuid.uuid4().hex[:6]}", tmp_path)
    load = SteadyLoad(settings, events)
    try:
        load.start()
        wait_until(
            lambda: worker_events(worker) > len(events) // 3,
            timeout=60,
            interval=0.1,
            what="the worker to fold a third of the load",
        )
        with own_redis.client() as client:
            client.flushall()
        wiped = time.monotonic()
        load.join(timeout=120)
        assert not load.is_alive(), "the load did not finish"
        load_done = time.monotonic()
        expected = expected_snapshot(settings, load.acked)
        wait_for_snapshot(settings, expected, timeout=60)
        healed_in, after_load = time.monotonic() - wiped, time.monotonic() - load_done
        status = httpx.get(worker.ready_url, timeout=5).json()
        assert status["read_model_rewrites"] >= 2, "a first sync, then the rewrite after the wipe"
        report(
            "FLUSHALL",
            events_acked=len(load.acked),
            deals=len({e.deal_id for e in load.acked}),
            lost=0,
            healed_in=f"{healed_in:.1f}s after the wipe, {after_load:.1f}s after the load ended",
            status=status,
        )
        # Wiped again with no event arriving: the periodic check alone restores it.
        with own_redis.client() as client:
            client.flushall()
        wait_for_snapshot(settings, expected, timeout=20, what="the idle worker to rewrite the wiped read model")
    finally:
        load.join(timeout=60)
        worker.stop()


class SilentServer:
    """Accepts TCP connections and never answers: a Redis behind a cut network."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("failure", ["refused", "silent"])
def test_review_answers_503_with_retry_after_while_redis_is_unreachable(failure):
    """Every route that reads Redis says 503 + Retry-After, within its timeout, never 500."""
    silent = SilentServer() if failure == "silent" else None
    port = silent.port if silent else free_port()  # nothing listens on a fresh free port
    common = CommonSettings(redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout=1.5)
    app = create_app(ReviewSettings(alert_feed_enabled=False, common=common))
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: nothing starts in the background
    try:
        # A silent server costs each request its full timeout: one route shows it is bounded.
        paths = (
            ["/v1/lists/leader"]
            if silent
            else [
                "/v1/lists/leader",
                "/v1/lists/manager?team=East",
                "/v1/deals/api:d1",
                "/v1/alerts",
                "/v1/webhooks",
                "POST /v1/alerts/al-0123456789abcdef0123/ack",
            ]
        )
        for path in paths:
            method, _, path = path.rpartition(" ")
            asked = time.monotonic()
            answer = client.request(method or "GET", path, json={"by": "ana"} if method else None)
            took = time.monotonic() - asked
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert answer.headers["Retry-After"] == "5"
            assert "Redis" in answer.json()["detail"] and "unavailable" in answer.json()["detail"]
            assert took < 2 * common.redis_timeout + 1.5, f"{path} took {took:.1f}s"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "redis unavailable" in ready.json()["status"]
    finally:
        if silent:
            silent.close()


def test_worker_stopped_while_redis_hangs_leaves_its_batch_to_the_next_worker(settings, own_redis, tmp_path):
    """Redis stops answering writes (CLIENT PAUSE: same server, same run id, no mark lost), and the
    worker holding a batch is asked to stop. faust waits for the batch (its un-acked events), so the
    stop does not finish; killed 5 s later, it has committed nothing of it. Redis answers again, and
    the next worker brings that batch to Redis: no mark could have told it to."""
    events = deal_stream(80, seed=34)
    first_half, second_half = events[: len(events) // 2], events[len(events) // 2 :]
    app_id = f"pr-scoring-{uuid.uuid4().hex[:6]}"
    worker = start_worker(settings, app_id, tmp_path)
    try:
        SteadyLoad(settings, first_half, rate=1000).run()
        wait_for_snapshot(settings, expected_snapshot(settings, first_half), timeout=60)
        with own_redis.client() as client:
            client.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
        SteadyLoad(settings, second_half, rate=1000).run()
        wait_until(
            lambda: (httpx.get(worker.ready_url, timeout=10).json().get("redis_outage_seconds") or 0) > 0,
            timeout=30,
            what="the worker to find Redis not answering its writes",
        )
        stopping = time.monotonic()
        worker.stop(timeout=5)  # SIGTERM, then SIGKILL after 5 s, as a supervisor would
        assert time.monotonic() - stopping >= 4.5, "the worker stopped without its batch reaching Redis"
        with own_redis.client() as client:
            client.execute_command("CLIENT", "UNPAUSE")
        worker = start_worker(settings, app_id, tmp_path)
        wait_for_snapshot(
            settings,
            expected_snapshot(settings, events),
            timeout=60,
            what="the batch held by the stopped worker to reach Redis",
        )
    finally:
        worker.stop()
