"""Small builders and waiters used across the test suite."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from services.shared.events import DealEvent

_ids = itertools.count(1)
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def event(
    deal_id: str = "api:d1",
    type: str = "deal.updated",
    at: dt.datetime | int = 0,
    event_id: str | None = None,
    sequence: int | None = None,
    source: str = "api",
    **changes: Any,
) -> DealEvent:
    """A canonical event; ``at`` may be minutes after T0."""
    when = T0 + dt.timedelta(minutes=at) if isinstance(at, int) else at
    return DealEvent.model_validate(
        {
            "event_id": event_id or f"ev-{next(_ids)}",
            "source": source,
            "deal_id": deal_id,
            "occurred_at": when.isoformat(),
            "type": type,
            "sequence": sequence,
            "changes": changes,
        }
    )


def wait_until(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


async def await_until(
    check: Callable[[], Awaitable[Any]], timeout: float = 20.0, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Async twin of wait_until."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def action(
    deal_id: str = "api:d1",
    type: str = "deal.reviewed",
    at: dt.datetime | int = 0,
    by: str = "ana",
    event_id: str | None = None,
    **fields: Any,
) -> DealEvent:
    """A manager action as review produces it; ``at`` may be minutes after T0, ``fields`` go into ``action``."""
    when = T0 + dt.timedelta(minutes=at) if isinstance(at, int) else at
    return DealEvent.model_validate(
        {
            "event_id": event_id or f"rv-{next(_ids)}",
            "source": "review",
            "deal_id": deal_id,
            "occurred_at": when.isoformat(),
            "type": type,
            "action": {"by": by, **fields},
        }
    )
