"""The real faust worker: crash and restart, two workers, and rebuilding Redis from Kafka."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer

from services.scoring.rebuild import rebuild
from services.shared.events import encode_event
from services.shared.keys import RedisKeys
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from testkit.processes import Service, free_port, scoring_env
from tests.conftest import settings_env
from tests.helpers import wait_until
from tests.workload import deal_stream, expected_alerts, manager_actions, run, snapshot, write_expected

pytestmark = pytest.mark.integration
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


def produce(settings, events) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    for e in events:
        producer.send(settings.deal_events_topic, key=e.deal_id.encode(), value=encode_event(e))
    producer.flush(60)
    producer.close()


def start_worker(settings, app_id, tmp_path, data_dir=None, **extra) -> Service:
    """A worker on a free port; its data directory is its own unless ``data_dir`` is given (a restart)."""
    port = free_port()
    env = settings_env(settings) | scoring_env(app_id, port, data_dir or tmp_path / f"w{port}") | extra
    return Service("scoring", env, f"http://127.0.0.1:{port}/readyz", tmp_path).start()


def uses_transactions(worker: Service) -> bool:
    """What the worker reports: exactly-once configured *and* its consumer built for it, and
    no changelog record that faust failed to apply in recovery."""
    ready = httpx.get(worker.ready_url, timeout=5).json()
    assert ready["recovery_errors"] == 0, ready.get("last_recovery_error")
    return ready["transactions"] is True


def worker_events(worker: Service) -> int:
    try:
        return httpx.get(worker.ready_url, timeout=5).json().get("events", 0)
    except (httpx.HTTPError, ValueError):
        return 0


def expected_snapshot(settings, events) -> dict:
    keys = RedisKeys(f"exp{uuid.uuid4().hex[:8]}")
    run(write_expected(settings.redis_url.get_secret_value(), keys, events, STAGES, settings.deal_event_partitions))
    return run(snapshot(settings.redis_url.get_secret_value(), keys))


def wait_for_snapshot(settings, expected, timeout=60.0, what="the read model to match the fold of all events"):
    actual = {}

    def matches():
        nonlocal actual
        actual = run(snapshot(settings.redis_url.get_secret_value(), settings.keys))
        return actual == expected

    try:
        wait_until(matches, timeout=timeout, interval=1.0, what=what)
    except AssertionError:
        missing = set(expected) - set(actual)
        extra = set(actual) - set(expected)
        differ = [k for k in set(expected) & set(actual) if expected[k] != actual[k]]
        example = ""
        if differ:
            key = sorted(differ)[0]
            example = f"; {key}: expected {str(expected[key])[:600]} got {str(actual[key])[:600]}"
        raise AssertionError(
            f"{what}: {len(missing)} keys missing, {len(extra)} extra, {len(differ)} differ "
            f"(e.g. {sorted(missing)[:3]} {sorted(extra)[:3]} {sorted(differ)[:3]}){example}"
        ) from None


def alerts_on_topic(settings) -> list[str]:
    consumer = KafkaConsumer(
        settings.deal_alerts_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=4000,
        isolation_level="read_committed",
        group_id=f"g-{uuid.uuid4().hex[:6]}",
    )
    ids = [json.loads(m.value)["alert_id"] for m in consumer]
    consumer.close()
    return ids


@pytest.mark.parametrize("store", ["rocksdb", "memory"])
def test_state_survives_crashes_mid_stream(common_settings, tmp_path, store):
    """SIGKILL the worker mid-stream twice, with a short commit interval, and restart it each time.

    At 0.2 s the kills land after exactly-once commits, with transactions open: each restart
    finds events behind the committed offsets (where faust once skipped events when it
    resumed, services/scoring/faust_compat.py), and batches whose states and alerts were
    written but not committed. The read model must equal the fold of all events, and every
    alert must be on the topic exactly once for a read_committed reader.
    """
    events = deal_stream(400, seed=11)
    half = len(events) // 2
    app_id = f"pr-scoring-{uuid.uuid4().hex[:6]}"
    # RocksDB keeps the table across the kills, so an aborted transaction's states must never reach it.
    fast_commits = {"PR_SCORING_COMMIT_INTERVAL": "0.2", "PR_SCORING_STORE": store}
    data_dir = tmp_path / "worker"  # the same across restarts: the RocksDB table survives each kill
    worker = start_worker(common_settings, app_id, tmp_path, data_dir, **fast_commits)
    produce(common_settings, events[:half])
    for more in (events[half:], []):
        wait_until(
            lambda worker=worker: worker_events(worker) > half // 4,
            timeout=60,
            interval=0.05,
            what="the worker to fold part of the stream",
        )
        worker.kill()  # no clean shutdown: transactions are left open, Redis may be ahead of Kafka
        produce(common_settings, more)
        worker = start_worker(common_settings, app_id, tmp_path, data_dir, **fast_commits)
    try:
        wait_for_snapshot(common_settings, expected_snapshot(common_settings, events), timeout=90)
        assert uses_transactions(worker)
        expected = expected_alerts(events, STAGES)
        assert any(expected_alerts(events[:half], STAGES)), "some alerts come before the first crash"
        on_topic = alerts_on_topic(common_settings)
        assert sorted(on_topic) == sorted(expected), "each discount request raises exactly one alert"
    finally:
        worker.stop()


@pytest.mark.parametrize("standbys", ["0", "1"])
def test_two_workers_share_the_partitions_and_agree_with_the_fold(common_settings, tmp_path, standbys):
    events = deal_stream(300, seed=12)
    app_id = f"pr-scoring-{uuid.uuid4().hex[:6]}"
    # With a standby, each worker also keeps the other's partitions warm (read-only) in its RocksDB.
    first = start_worker(common_settings, app_id, tmp_path, PR_SCORING_STANDBY_REPLICAS=standbys)
    second = start_worker(common_settings, app_id, tmp_path, PR_SCORING_STANDBY_REPLICAS=standbys)
    try:
        produce(common_settings, events)
        wait_for_snapshot(common_settings, expected_snapshot(common_settings, events), timeout=90)
        assert uses_transactions(first) and uses_transactions(second)
        # Both took part: the 6 partitions were split between them.
        assert worker_events(first) > 0 and worker_events(second) > 0
        assert worker_events(first) + worker_events(second) >= len(events)
    finally:
        first.stop()
        second.stop()


def test_rebuild_restores_an_identical_read_model_after_redis_is_wiped(common_settings, tmp_path):
    events = deal_stream(200, seed=13)
    produce(common_settings, events)
    worker = start_worker(common_settings, f"pr-scoring-{uuid.uuid4().hex[:6]}", tmp_path)
    try:
        expected = expected_snapshot(common_settings, events)
        wait_for_snapshot(common_settings, expected, timeout=60)
    finally:
        worker.stop()
    before = run(snapshot(common_settings.redis_url.get_secret_value(), common_settings.keys))
    summary = rebuild(common_settings, wipe=True, show_progress=False)
    assert summary.events == len(events)
    assert run(snapshot(common_settings.redis_url.get_secret_value(), common_settings.keys)) == before


def test_scorecards_survive_a_restart_and_a_rebuild(common_settings, tmp_path):
    """Actions folded before a crash still count after it (the deal table's changelog keeps them), and a
    rebuild from deal-events writes the same scorecard facts."""
    events = deal_stream(120, seed=14)
    actions = manager_actions(events, seed=14)
    assert {a.type.value for a in actions} == {"deal.reviewed", "deal.help_offered", "deal.discount_decided"}
    half = len(actions) // 2
    app_id = f"pr-scoring-{uuid.uuid4().hex[:6]}"
    worker = start_worker(common_settings, app_id, tmp_path)
    try:
        produce(common_settings, events + actions[:half])
        wait_for_snapshot(common_settings, expected_snapshot(common_settings, events + actions[:half]), timeout=60)
    finally:
        worker.kill()
    produce(common_settings, actions[half:])
    worker = start_worker(common_settings, app_id, tmp_path)
    try:
        expected = expected_snapshot(common_settings, events + actions)
        wait_for_snapshot(common_settings, expected, timeout=60)
    finally:
        worker.stop()
    scorecard_keys = [k for k in expected if ":scorecards:" in k]
    assert scorecard_keys, "the actions reach the scorecard rows"
    actors = {json.loads(row)[2] for k in scorecard_keys for row in expected[k]}
    assert actors - {""} == {"ana", "bob", "cy"}  # "": the help baseline
    before = run(snapshot(common_settings.redis_url.get_secret_value(), common_settings.keys))
    rebuild(common_settings, wipe=True, show_progress=False)
    assert run(snapshot(common_settings.redis_url.get_secret_value(), common_settings.keys)) == before
