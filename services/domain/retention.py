"""When a deleted deal's card leaves the read model (pure).

A deleted deal leaves both lists at once (see lists.place); its card stays readable for a
grace period, so a link in an old alert or a review still explains what happened, and then
goes. The deletion time is the deletion's time in the CRM (the event's ``occurred_at``): the
same after a replay or a read-model rebuild as when it first happened.
"""

from __future__ import annotations

import datetime as dt

from .state import STATUS_DELETED, DealState

DAY_SECONDS = 24 * 60 * 60


def deleted_at(state: DealState) -> float | None:
    """When (epoch seconds) the deal was deleted, or None when it is not deleted."""
    if state.status != STATUS_DELETED or "status" not in state.stamps:
        return None
    micros = state.stamps["status"][0]  # the order key of the event that set the status
    return micros / 1_000_000


def removal_cutoff(now: dt.datetime, grace_days: float) -> float:
    """Cards of deals deleted at or before this time (epoch seconds) are due for removal."""
    return now.timestamp() - grace_days * DAY_SECONDS


def due_for_removal(state: DealState, now: dt.datetime, grace_days: float) -> bool:
    """Whether this deal's card and rankings should be gone from the read model by now."""
    deleted = deleted_at(state)
    return deleted is not None and deleted <= removal_cutoff(now, grace_days)
