"""Ordered, bounded histories of the deal fields that pipeline movement reads (pure).

A deal's state keeps, for each of ``HISTORY_FIELDS``, the values it took as a list of
``[order key, value]`` sorted by the per-deal order key (occurred_at, sequence, event_id).
An event is inserted at its place in that order, whenever it arrives, and an event already
there is not inserted again: so any permutation or duplication of a deal's events gives the
same histories, and what movement derives from them (push count, the time the deal entered
its stage, the deal as it was on the first day of a quarter) follows the order in the CRM,
not the order of arrival.

Each history keeps its newest ``HISTORY_LIMIT`` entries. When the close-date history drops
its oldest entry, a push between that entry and the next one is kept in
``pushes_compacted``, so ``push_count`` stays whole; an event older than every kept entry
that arrives after such a drop is then only as good as the entries still kept.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from .quarters import quarter_index

HISTORY_FIELDS = ("stage", "amount", "close_date", "status")
HISTORY_LIMIT = 50
PUSHES_COMPACTED = "pushes_compacted"
STALL_ALERTED = "stall_alerted"  # event id that started the stall already alerted (see movement.py)


def copy_movement(movement: dict[str, Any]) -> dict[str, Any]:
    """A copy whose history lists can be changed without touching the original."""
    return {name: list(value) if isinstance(value, list) else value for name, value in movement.items()}


def record_movement(movement: dict[str, Any], key: tuple, changes: dict[str, Any]) -> None:
    """Insert this event's values of the history fields at the event's place in each history."""
    entry_key = list(key)
    for name in HISTORY_FIELDS:
        if name not in changes:
            continue
        history = movement.setdefault(name, [])
        at = bisect.bisect_left(history, entry_key, key=lambda entry: entry[0])
        if at < len(history) and history[at][0] == entry_key:
            continue  # this event is recorded already
        history.insert(at, [entry_key, changes[name]])
        while len(history) > HISTORY_LIMIT:
            dropped = history.pop(0)
            if name == "close_date" and is_push(dropped[1], history[0][1]):
                movement[PUSHES_COMPACTED] = movement.get(PUSHES_COMPACTED, 0) + 1


def history(movement: dict[str, Any], name: str) -> list[list[Any]]:
    """The ``[order key, value]`` entries of one field, oldest first."""
    return movement.get(name) or []


def parse_day(raw: Any) -> dt.date | None:
    """A close date as stored (ISO text), or None when it is empty or not a date."""
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def is_push(before: Any, after: Any) -> bool:
    """Whether a close date moving from ``before`` to ``after`` moved it to a later quarter."""
    old, new = parse_day(before), parse_day(after)
    return old is not None and new is not None and quarter_index(new) > quarter_index(old)


def micros_of(when: dt.datetime) -> int:
    """A time as the first element of an order key (µs since the epoch)."""
    return int(when.timestamp() * 1_000_000)


def time_of(key: list[Any] | tuple) -> dt.datetime:
    """The occurred_at an order key carries, in UTC."""
    return dt.datetime.fromtimestamp(key[0] / 1_000_000, tz=dt.UTC)


def value_at(movement: dict[str, Any], name: str, micros: int) -> tuple[bool, Any]:
    """``(known, value)`` of a field as it was at ``micros`` (events at that instant included).

    ``known`` is False when no kept event before then set the field."""
    entries = history(movement, name)
    at = bisect.bisect_right(entries, micros, key=lambda entry: entry[0][0])
    if at == 0:
        return False, None
    return True, entries[at - 1][1]
