"""SeekBeforeResume: input partitions start fetching only after the seek to committed offsets."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from pipeline_review.scoring.app import create_app
from pipeline_review.scoring.resume_order import SeekBeforeResume
from pipeline_review.scoring.settings import ScoringSettings


class TP(NamedTuple):
    topic: str
    partition: int


EVENTS_0, EVENTS_1 = TP("deal-events", 0), TP("deal-events", 1)
CHANGELOG_0 = TP("app-deals-changelog", 0)


class RecordingConsumer:
    """Records the order of resume and seek calls, as faust's consumer would receive them."""

    def __init__(self, assigned):
        self.calls: list[tuple] = []
        self.assigned = set(assigned)

    def resume_partitions(self, tps):
        self.calls.append(("resume", frozenset(tps)))

    async def perform_seek(self):
        self.calls.append(("seek",))

    def assignment(self):
        return self.assigned


def install(consumer) -> SeekBeforeResume:
    return SeekBeforeResume(consumer, lambda tp: tp.topic.endswith("-changelog")).install()


async def test_stream_partitions_are_resumed_only_after_the_seek():
    consumer = RecordingConsumer({EVENTS_0, EVENTS_1, CHANGELOG_0})
    install(consumer)
    # faust's order after recovery: resume the stream partitions, then seek them.
    consumer.resume_partitions({EVENTS_0, EVENTS_1})
    assert consumer.calls == []
    await consumer.perform_seek()
    assert consumer.calls == [("seek",), ("resume", frozenset({EVENTS_0, EVENTS_1}))]


async def test_changelog_partitions_are_resumed_at_once_for_table_recovery():
    consumer = RecordingConsumer({EVENTS_0, CHANGELOG_0})
    install(consumer)
    consumer.resume_partitions({CHANGELOG_0, EVENTS_0})
    assert consumer.calls == [("resume", frozenset({CHANGELOG_0}))]


async def test_a_partition_revoked_before_the_seek_is_not_resumed():
    consumer = RecordingConsumer({EVENTS_0, EVENTS_1})
    install(consumer)
    consumer.resume_partitions({EVENTS_0, EVENTS_1})
    consumer.assigned = {EVENTS_1}  # a rebalance took partition 0 away in between
    await consumer.perform_seek()
    assert consumer.calls == [("seek",), ("resume", frozenset({EVENTS_1}))]


async def test_a_seek_with_nothing_held_resumes_nothing():
    consumer = RecordingConsumer({EVENTS_0})
    install(consumer)
    await consumer.perform_seek()
    await consumer.perform_seek()
    assert consumer.calls == [("seek",), ("seek",)]


async def test_a_seek_that_fails_still_resumes_the_held_partitions():
    consumer = RecordingConsumer({EVENTS_0})

    async def seek_times_out():
        raise TimeoutError

    consumer.perform_seek = seek_times_out
    install(consumer)
    consumer.resume_partitions({EVENTS_0})
    with pytest.raises(TimeoutError):
        await consumer.perform_seek()
    assert consumer.calls == [("resume", frozenset({EVENTS_0}))]  # stalling the partition would be worse


def test_the_worker_app_installs_it(tmp_path, monkeypatch):
    """create_app wires it into the real faust consumer (building the app needs no broker)."""
    monkeypatch.chdir(tmp_path)
    app = create_app(ScoringSettings(data_dir=".run/scoring", app_id="resume-order-test"))

    assert isinstance(app.consumer.perform_seek.__self__, SeekBeforeResume)
    assert isinstance(app.consumer.resume_partitions.__self__, SeekBeforeResume)
