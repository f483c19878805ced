"""The alert feed never waits without a bound on aiokafka's start() or stop()."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.review.alert_feed import _start_within, _stop_within

pytestmark = pytest.mark.unit


class StuckConsumer:
    """A consumer whose start() and stop() never end, as aiokafka's can with the broker unreachable."""

    def __init__(self):
        self.start_cancelled = False

    async def start(self):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.start_cancelled = True
            raise

    async def stop(self):
        await asyncio.Event().wait()


class QuickConsumer:
    def __init__(self):
        self.started = False

    async def start(self):
        self.started = True


def test_a_start_without_assignment_gives_up_after_its_timeout_and_is_cancelled():
    consumer = StuckConsumer()

    async def scenario():
        began = time.monotonic()
        with pytest.raises(TimeoutError, match="no assignment after"):
            await _start_within(consumer, 0.2)
        elapsed = time.monotonic() - began
        await asyncio.sleep(0)  # let the cancellation reach the stuck start()
        return elapsed

    elapsed = asyncio.run(scenario())
    assert 0.2 <= elapsed < 1.0
    assert consumer.start_cancelled


def test_a_start_that_succeeds_returns_at_once():
    consumer = QuickConsumer()
    asyncio.run(_start_within(consumer, 5))
    assert consumer.started


def test_a_start_error_reaches_the_caller():
    class Failing:
        async def start(self):
            raise ConnectionError("refused")

    with pytest.raises(ConnectionError, match="refused"):
        asyncio.run(_start_within(Failing(), 5))


def test_a_stop_that_never_ends_is_left_behind_after_its_timeout():
    async def scenario():
        began = time.monotonic()
        await _stop_within(StuckConsumer(), 0.2)
        return time.monotonic() - began

    assert 0.2 <= asyncio.run(scenario()) < 1.0
