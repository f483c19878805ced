"""SeekBeforeResume: input partitions start fetching only after the seek to committed offsets."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from services.scoring.app import create_app
from services.scoring.faust_compat import SeekBeforeResume
from services.scoring.settings import ScoringSettings

pytestmark = pytest.mark.unit


class TP(NamedTuple):
    topic: str
    partition: int


EVENTS_0, EVENTS_1 = TP("deal-events", 0), TP("deal-events", 1)
CHANGELOG_0 = TP("app-deals-changelog", 0)


class RecordingConsumer:
    """Records the order of resume and seek calls, as faust's consumer would receive them."""

    def __init__(self, assigned, committed=None):
        self.calls: list[tuple] = []
        self.assigned = set(assigned)
        self.committed = committed if committed is not None else dict.fromkeys(assigned, 5)

    def resume_partitions(self, tps):
        self.calls.append(("resume", frozenset(tps)))

    async def perform_seek(self):  # faust's: seek to the committed offsets it looks up
        await self.seek_to_committed()
        self.calls.append(("seek",))

    async def seek_to_committed(self):
        return dict(self.committed)

    async def earliest_offsets(self, *tps):
        return dict.fromkeys(tps, 0)

    async def seek_wait(self, offsets):
        self.calls.append(("seek_wait", dict(offsets)))

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


async def test_a_partition_never_committed_is_rewound_to_the_earliest_offset():
    # aiokafka does not seek a partition without a committed offset, so records fetched
    # before the rebalance would stay skipped.
    consumer = RecordingConsumer({EVENTS_0, EVENTS_1}, committed={EVENTS_0: None, EVENTS_1: 7})
    install(consumer)
    consumer.resume_partitions({EVENTS_0, EVENTS_1})
    await consumer.perform_seek()
    assert consumer.calls == [("seek",), ("seek_wait", {EVENTS_0: 0}), ("resume", frozenset({EVENTS_0, EVENTS_1}))]


def test_the_worker_app_installs_it(tmp_path, monkeypatch):
    """create_app wires it into the real faust consumer (building the app needs no broker)."""
    monkeypatch.chdir(tmp_path)
    app = create_app(ScoringSettings(data_dir=".run/scoring", app_id="resume-order-test"))
    # Building the app must not build the consumer: faust fixes the consumer's transactions
    # flag when it builds it, and outside a running worker that flag is off.
    assert app._consumer is None

    assert isinstance(app.consumer.perform_seek.__self__, SeekBeforeResume)
    assert isinstance(app.consumer.resume_partitions.__self__, SeekBeforeResume)
    assert isinstance(app.consumer.seek_to_committed.__self__, SeekBeforeResume)


class FakeThread:
    """The consumer thread right after a broker restart: no last stable offsets fetched yet."""

    def __init__(self, lso: dict, broker_answers: list):
        self.lso = lso
        self.broker_answers = broker_answers  # one item per end_offsets call: an exception or a dict
        self.asked: list = []

    async def _highwaters(self, partitions):
        return {tp: self.lso.get(tp) for tp in partitions}

    def _ensure_consumer(self):
        return self

    async def end_offsets(self, partitions):
        self.asked.append(list(partitions))
        answer = self.broker_answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {tp: answer[tp] for tp in partitions}


async def test_unknown_highwaters_are_asked_from_the_broker_not_read_as_empty():
    from services.scoring.faust_compat import KnownHighwaters

    thread = FakeThread({"p0": 120, "p1": None}, [{"p1": 8293}])
    KnownHighwaters(thread).install()
    assert await thread._highwaters(["p0", "p1"]) == {"p0": 120, "p1": 8293}
    assert thread.asked == [["p1"]]  # the known one is not asked again


async def test_highwaters_are_asked_again_while_the_broker_is_coming_back():
    from services.scoring.faust_compat import KnownHighwaters

    thread = FakeThread({"p0": None}, [TimeoutError("metadata not ready"), {"p0": None}, {"p0": 7}])
    KnownHighwaters(thread, pause=0.01).install()
    assert await thread._highwaters(["p0"]) == {"p0": 7}
    assert len(thread.asked) == 3


async def test_highwaters_that_stay_unknown_end_in_an_error_naming_the_cause():
    from services.scoring.faust_compat import KnownHighwaters

    thread = FakeThread({"p0": None}, [TimeoutError("broker away")] * 100)
    KnownHighwaters(thread, patience=0.05, pause=0.01).install()
    with pytest.raises(RuntimeError, match="still unknown after 0s: TimeoutError: broker away"):
        await thread._highwaters(["p0"])
