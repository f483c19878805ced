"""Pipeline movement (pure): how deals moved, the alerts that go with it, the quarter's flow.

Everything here reads a deal's ordered histories (history.py), so it follows the per-deal
order of events in the CRM, not their arrival order. The definitions, with a worked
example, are in docs/movement.md.

- ``push_count``: times the close date moved to a later quarter.
- ``stage_entered_at``: when the deal entered its current stage (a later event restating the
  same stage does not restart the clock); ``days_in_stage`` is computed from it at read time.
- ``last_change_at``: when the newest event of the deal happened.
- Alerts: ``close_date_pushed``, ``qualification_gap``, ``stalled``, each with an
  ``alert_id`` derived from the deal and the event that caused it, so a replay, a duplicate or
  a second worker yields the same id.
- Flow of a quarter: each deal's part in the buckets start, new, pulled_in, pushed_out,
  increased, decreased, won, lost and end, which reconcile by construction.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.shared.alert_kinds import CLOSE_DATE_PUSHED, QUALIFICATION_GAP, STALLED
from services.shared.events import DealEvent
from services.shared.stages import Phase, StageMap

from .alerts import alert_id_for, severity_by_amount
from .history import PUSHES_COMPACTED, STALL_ALERTED, history, is_push, micros_of, parse_day, time_of, value_at
from .quarters import manager_horizon, quarter_bounds, quarter_of
from .state import STATUS_OPEN, DealState, order_key

GAP_ITEMS = ("economic_buyer", "champion")  # who a late deal cannot close without
CARD_CLOSE_DATES = 10  # close-date changes a card shows, newest last
STALL_PHASES = (Phase.EARLY, Phase.MID)
DAY = dt.timedelta(days=1)


# -- movement on every deal --------------------------------------------------------------


def push_count(state: DealState) -> int:
    """Times the close date moved to a later quarter, in the per-deal order of events."""
    dates = [value for _key, value in history(state.movement, "close_date") if parse_day(value)]
    pushes = sum(1 for before, after in itertools.pairwise(dates) if is_push(before, after))
    return pushes + int(state.movement.get(PUSHES_COMPACTED, 0))


def _current_stage_run(state: DealState) -> list[Any] | None:
    """The stage-history entry that started the deal's current stage (None: no stage known)."""
    stages = history(state.movement, "stage")
    if not stages:
        return None
    current = str(stages[-1][1] or "").strip().casefold()
    first = len(stages) - 1
    while first > 0 and str(stages[first - 1][1] or "").strip().casefold() == current:
        first -= 1
    return stages[first]


def stage_entered_at(state: DealState) -> dt.datetime | None:
    """When the deal entered its current stage (for a state kept before the history: the stage's last write)."""
    entry = _current_stage_run(state)
    if entry is not None:
        return time_of(entry[0])
    stamp = state.stamps.get("stage")
    return time_of(stamp) if stamp else None


def last_change_at(state: DealState) -> dt.datetime | None:
    """When the newest event of this deal happened in the CRM."""
    return time_of(state.last_key) if state.last_key else None


def days_in_stage(entered_at: str | dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole days since the deal entered its stage (never negative); None when unknown."""
    if entered_at is None:
        return None
    when = dt.datetime.fromisoformat(entered_at) if isinstance(entered_at, str) else entered_at
    return max(0, (now - when) // DAY)


def close_date_history(state: DealState, limit: int = CARD_CLOSE_DATES) -> list[dict[str, Any]]:
    """The recent changes of the close date, oldest first: ``{"close_date", "changed_at", "pushed"}``."""
    changes: list[dict[str, Any]] = []
    for key, value in history(state.movement, "close_date"):
        if changes and changes[-1]["close_date"] == value:
            continue  # restated, not changed
        pushed = bool(changes) and is_push(changes[-1]["close_date"], value)
        changes.append({"close_date": value, "changed_at": time_of(key).isoformat(), "pushed": pushed})
    return changes[-limit:]


def with_days_in_stage(card: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The card (or list item) with ``days_in_stage`` as of ``now``: it grows without any event."""
    return {**card, "days_in_stage": days_in_stage(card.get("stage_entered_at"), now)}


# A stall argument not given: "not computed yet", since None is a valid stall_of answer.
STALL_UNKNOWN: Any = object()


def movement_fields(state: DealState, stage_map: StageMap, stall: Stall | None = STALL_UNKNOWN) -> dict[str, Any]:
    """What the deal card carries about movement (``days_in_stage`` is added when it is read).

    ``stall``: the deal's stall_of, when the caller has it already."""
    changed = last_change_at(state)
    if stall is STALL_UNKNOWN:
        stall = stall_of(state, stage_map)
    # A stall starts when the current stage was entered: its entry is the one stage_entered_at reads.
    entered = stall.entered_at if stall is not None else stage_entered_at(state)
    return {
        "push_count": push_count(state),
        "stage_entered_at": entered.isoformat() if entered else None,
        "last_change_at": changed.isoformat() if changed else None,
        "close_date_history": close_date_history(state),
        "stall_days": stall.stall_days if stall else None,
        "stalled_since": stall.due_at.isoformat() if stall else None,
    }


# -- alerts --------------------------------------------------------------------------------


def _alert(
    kind: str,
    cause: str,
    state: DealState,
    stage_map: StageMap,
    occurred_at: dt.datetime,
    event_id: str | None,
    amount_for_severity: float,
) -> dict[str, Any]:
    """The fields every alert carries (the same as the discount alert's, so feed filters apply alike)."""
    amount = float(state.get("amount", 0.0))
    return {
        "alert_id": alert_id_for(state.deal_id, f"{kind}\x1f{cause}"),
        "kind": kind,
        "severity": severity_by_amount(amount_for_severity),
        "deal_id": state.deal_id,
        "event_id": event_id,
        "name": state.get("name", ""),
        "account": state.get("account", ""),
        "owner_id": state.get("owner_id", ""),
        "team": state.get("team", ""),
        "manager_id": state.get("manager_id", ""),
        "stage": state.get("stage", ""),
        "phase": state.phase(stage_map).value,
        "amount": amount,
        "currency": state.get("currency", ""),
        "occurred_at": occurred_at.isoformat(),
    }


def _is_open(state: DealState, stage_map: StageMap) -> bool:
    return _open_phase(state, stage_map) is not None


def _open_phase(state: DealState, stage_map: StageMap) -> Phase | None:
    """The phase of an open deal in an open phase; None for any other deal."""
    if state.status != STATUS_OPEN:
        return None
    phase = state.phase(stage_map)
    return phase if phase.is_open else None


def _entry_index(entries: list[list[Any]], key: list[Any]) -> int | None:
    for at in range(len(entries) - 1, -1, -1):
        if entries[at][0] == key:
            return at
    return None


def close_date_pushed_alert(
    event: DealEvent, state: DealState, stage_map: StageMap, horizon_quarters: int = 1
) -> dict[str, Any] | None:
    """An open deal's close date moved from inside the manager horizon to a later quarter.

    ``state`` is the deal after ``event``. The date it moved from is the one just before the
    event in the per-deal order; the horizon is the one on the day the event happened, so a
    replay raises the same alerts."""
    # The changes' fields set are the keys of changed_fields(), without building it.
    if "close_date" not in event.changes.model_fields_set or not _is_open(state, stage_map):
        return None
    dates = history(state.movement, "close_date")
    at = _entry_index(dates, list(order_key(event)))
    if at is None:
        return None
    to_date = dates[at][1]
    from_date = next((value for _key, value in reversed(dates[:at]) if parse_day(value)), None)
    if not is_push(from_date, to_date):
        return None
    from_day = parse_day(from_date)  # a date: is_push parsed it
    if from_day is None or quarter_of(from_day) not in manager_horizon(event.occurred_at.date(), horizon_quarters):
        return None
    alert = _alert(
        CLOSE_DATE_PUSHED,
        event.event_id,
        state,
        stage_map,
        event.occurred_at,
        event.event_id,
        float(state.get("amount", 0.0)),
    )
    alert.update(from_close_date=from_date, to_close_date=to_date, push_count=push_count(state))
    return alert


def qualification_gap_alert(event: DealEvent, state: DealState, stage_map: StageMap) -> dict[str, Any] | None:
    """The deal entered the late phase (with this event) while its economic buyer or champion is unknown."""
    changes = event.changes
    if "stage" not in changes.model_fields_set or not changes.stage:  # changed_fields().get("stage"), unbuilt
        return None
    if _open_phase(state, stage_map) is not Phase.LATE:
        return None
    stages = history(state.movement, "stage")
    at = _entry_index(stages, list(order_key(event)))
    if at is None:
        return None

    def late(entry: list[Any]) -> bool:
        return stage_map.phase(entry[1], state.source) is Phase.LATE

    # This event must start the deal's current run of late stages: a move between two late
    # stages, or an older event arriving after the deal went on, enters nothing.
    if not all(late(entry) for entry in stages[at:]) or (at > 0 and late(stages[at - 1])):
        return None
    evidence = state.qualification()
    missing = [item for item in GAP_ITEMS if evidence.get(item) != "known"]
    if not missing:
        return None
    alert = _alert(
        QUALIFICATION_GAP,
        event.event_id,
        state,
        stage_map,
        event.occurred_at,
        event.event_id,
        float(state.get("amount", 0.0)),
    )
    alert["missing"] = missing
    return alert


@dataclass(frozen=True)
class Stall:
    """Where a deal stands against its stage's stall limit."""

    entered_event_id: str  # the event that moved the deal into its stage: one stall per entry
    entered_at: dt.datetime
    stall_days: float
    due_at: dt.datetime  # when the deal counts as stalled

    def stalled(self, now: dt.datetime) -> bool:
        return now >= self.due_at


def stall_of(state: DealState, stage_map: StageMap) -> Stall | None:
    """The stall limit an open early or mid deal runs against; None for any other deal."""
    if _open_phase(state, stage_map) not in STALL_PHASES:
        return None
    days = stage_map.stall_days_for(state.get("stage"), state.source)
    entry = _current_stage_run(state)
    if days is None or entry is None:
        return None
    entered = time_of(entry[0])
    return Stall(str(entry[0][2]), entered, days, entered + dt.timedelta(days=days))


def stall_alerted(state: DealState) -> bool:
    """Whether the current stall was alerted already (the deal has not moved since)."""
    stall_event = state.movement.get(STALL_ALERTED)
    entry = _current_stage_run(state)
    return stall_event is not None and entry is not None and stall_event == entry[0][2]


def _stall_alerted(state: DealState, stall: Stall) -> bool:
    """stall_alerted, for a deal whose stall (its stall_of) is known: the stall's entry is the current stage run."""
    return state.movement.get(STALL_ALERTED) == stall.entered_event_id


def is_stalled(state: DealState, stage_map: StageMap, stall: Stall | None = STALL_UNKNOWN) -> bool:
    """Whether the deal is stalled now: its current stall was alerted and it has not moved since."""
    if stall is STALL_UNKNOWN:
        stall = stall_of(state, stage_map)
    return stall is not None and _stall_alerted(state, stall)


def stall_due(state: DealState, stage_map: StageMap, stall: Stall | None = STALL_UNKNOWN) -> float | None:
    """When (epoch s) the deal's stall alert is due; None when none is to come."""
    if stall is STALL_UNKNOWN:
        stall = stall_of(state, stage_map)
    if stall is None or _stall_alerted(state, stall):
        return None
    return stall.due_at.timestamp()


def stalled_alert(
    state: DealState, stage_map: StageMap, now: dt.datetime, stall: Stall | None = STALL_UNKNOWN
) -> dict[str, Any] | None:
    """The alert of a deal that has stayed in its early or mid stage past the stage's
    ``stall_days`` by ``now``, unless this stall was alerted already.

    ``stall``: the deal's stall_of, when the caller has it already."""
    if stall is STALL_UNKNOWN:
        stall = stall_of(state, stage_map)
    if stall is None or not stall.stalled(now) or _stall_alerted(state, stall):
        return None
    potential = float(state.get("potential_value", state.get("amount", 0.0)))
    alert = _alert(STALLED, stall.entered_event_id, state, stage_map, stall.due_at, None, potential)
    alert.update(
        days_in_stage=days_in_stage(stall.entered_at, now),
        stall_days=stall.stall_days,
        potential_value=potential,
        stage_entered_at=stall.entered_at.isoformat(),
    )
    return alert


def mark_stall_alerted(state: DealState) -> None:
    """Remember that the current stall was alerted, so it is not alerted again until the deal moves."""
    entry = _current_stage_run(state)
    if entry is not None:
        state.movement[STALL_ALERTED] = entry[0][2]


def movement_alerts(
    event: DealEvent, state: DealState, stage_map: StageMap, horizon_quarters: int = 1
) -> list[dict[str, Any]]:
    """The event-driven movement alerts one folded event raises (``state``: the deal after it)."""
    alerts = [
        close_date_pushed_alert(event, state, stage_map, horizon_quarters),
        qualification_gap_alert(event, state, stage_map),
    ]
    return [alert for alert in alerts if alert is not None]


# -- the flow of a quarter ---------------------------------------------------------------

FLOW_BUCKETS = ("start", "new", "pulled_in", "pushed_out", "increased", "decreased", "won", "lost", "end")
ADDED = ("start", "new", "pulled_in", "increased")
TAKEN = ("pushed_out", "decreased", "won", "lost")
EXIT_BY_STATUS = {"won": "won", "lost": "lost", "deleted": "lost"}


@dataclass(frozen=True)
class Snapshot:
    """A deal as it was at one instant, rebuilt from its histories."""

    existed: bool
    status: str
    amount: float
    close_date: dt.date | None

    def in_quarter(self, first: dt.date, last: dt.date) -> bool:
        """In that quarter's pipeline: open, with its close date inside the quarter."""
        return (
            self.existed
            and self.status == STATUS_OPEN
            and self.close_date is not None
            and first <= self.close_date <= last
        )


def snapshot_at(state: DealState, when: dt.datetime) -> Snapshot:
    return _snapshot_at_micros(state, micros_of(when))


def _snapshot_at_micros(state: DealState, micros: int) -> Snapshot:
    created = state.stamps.get("_created")
    existed = created is not None and created[0] <= micros
    _, status = value_at(state.movement, "status", micros)
    _, amount = value_at(state.movement, "amount", micros)
    _, close = value_at(state.movement, "close_date", micros)
    return Snapshot(existed, status or STATUS_OPEN, float(amount or 0.0), parse_day(close))


class _Snapshots:
    """One deal's snapshots, each instant's rebuilt once however many flows ask for it.

    Past the deal's newest change (its creation and every kept status, amount and close-date
    entry) the deal is as it is now, so every such instant shares one snapshot: for a deal that
    did not change during the quarters asked for, that is the only one built."""

    def __init__(self, state: DealState):
        self.state = state
        movement = state.movement
        created = state.stamps.get("_created")
        newest = created[0] if created is not None else None
        for name in ("status", "amount", "close_date"):
            entries = movement.get(name)
            if entries:
                last = entries[-1][0][0]
                newest = last if newest is None or last > newest else newest
        self.newest = newest
        self.cache: dict[int, Snapshot] = {}

    def at(self, micros: int) -> Snapshot:
        if self.newest is None or micros > self.newest:
            micros = self.newest if self.newest is not None else 0  # nothing changes after it
        snapshot = self.cache.get(micros)
        if snapshot is None:
            snapshot = self.cache[micros] = _snapshot_at_micros(self.state, micros)
        return snapshot


_MICROSECOND = dt.timedelta(microseconds=1)


@functools.lru_cache(maxsize=64)
def _quarter_frame(quarter: str) -> tuple[dt.date, dt.date, dt.datetime, int, dt.datetime]:
    """A quarter's first and last day, its first instant, the µs just before it begins, and its
    last instant (what deal_flow reads of a quarter, computed once per quarter)."""
    first_day, last_day = quarter_bounds(quarter)
    begins, ends = quarter_instants(quarter)
    return first_day, last_day, begins, micros_of(begins - _MICROSECOND), ends - _MICROSECOND


def quarter_instants(quarter: str) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of a quarter and of the next one (UTC)."""
    first, last = quarter_bounds(quarter)
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(last + DAY, dt.time(), tzinfo=dt.UTC)


def deal_flow(state: DealState, quarter: str, as_of: dt.datetime) -> dict[str, float]:
    """This deal's part in each bucket of the quarter's flow (bucket -> amount; absent: not in it).

    The quarter's pipeline at an instant is its open deals whose close date lies in the quarter.
    ``start`` is it on the quarter's first instant, ``end`` at ``as_of`` (or the quarter's end,
    when that is earlier). A deal in both gives the change of its amount to ``increased`` or
    ``decreased``. A deal that left it went ``won``, ``lost`` (lost or deleted) or
    ``pushed_out`` (still open, close date outside the quarter) at its amount at the end, its
    amount change since the start first going to ``increased``/``decreased``. A deal that joined
    is ``new`` (created since the start) or ``pulled_in``, at its amount at the end. A deal won
    or lost during the quarter with its close date in it joins and leaves alike. So each deal's
    parts add up: start + new + pulled_in - pushed_out + increased - decreased - won - lost = end.
    """
    return _deal_flow(state, quarter, as_of, _Snapshots(state))


def deal_flows(state: DealState, quarters: Iterable[str], as_of: dt.datetime) -> dict[str, dict[str, float]]:
    """``deal_flow`` of each quarter (quarter -> parts), the snapshots they share built once:
    the end of the previous quarter is the start of the current one."""
    snapshots = _Snapshots(state)
    return {quarter: _deal_flow(state, quarter, as_of, snapshots) for quarter in quarters}


def _deal_flow(state: DealState, quarter: str, as_of: dt.datetime, snapshots: _Snapshots) -> dict[str, float]:
    first_day, last_day, begins, before_micros, last_instant = _quarter_frame(quarter)
    until = min(as_of, last_instant)
    before, after = snapshots.at(before_micros), snapshots.at(micros_of(until))
    was_in, is_in = before.in_quarter(first_day, last_day), after.in_quarter(first_day, last_day)
    parts: dict[str, float] = {}
    if not was_in and not is_in:
        closed_here = (
            after.status in EXIT_BY_STATUS
            and after.close_date is not None
            and first_day <= after.close_date <= last_day
            and _status_changed_within(state, begins, until)
        )
        if not closed_here:
            return parts
    if was_in:
        parts["start"] = before.amount
        change = after.amount - before.amount
        if change > 0:
            parts["increased"] = change
        elif change < 0:
            parts["decreased"] = -change
    else:
        parts["new" if not before.existed else "pulled_in"] = after.amount
    if is_in:
        parts["end"] = after.amount
    else:
        parts[EXIT_BY_STATUS.get(after.status, "pushed_out")] = after.amount
    return parts


def _status_changed_within(state: DealState, begins: dt.datetime, until: dt.datetime) -> bool:
    low, high = micros_of(begins), micros_of(until)
    return any(low <= key[0] <= high for key, _value in history(state.movement, "status"))


def flow_totals(parts: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    """The buckets of a quarter from every deal's parts: ``{bucket: {"count", "amount"}}``."""
    totals = {bucket: {"count": 0, "amount": 0.0} for bucket in FLOW_BUCKETS}
    for deal in parts:
        for bucket, amount in deal.items():
            totals[bucket]["count"] += 1
            totals[bucket]["amount"] += amount
    for total in totals.values():
        total["amount"] = round(total["amount"], 2)
    return totals


def reconciliation_gap(buckets: dict[str, dict[str, float]]) -> float:
    """start + new + pulled_in - pushed_out + increased - decreased - won - lost - end (0 when it reconciles)."""
    added = sum(buckets[name]["amount"] for name in ADDED)
    taken = sum(buckets[name]["amount"] for name in TAKEN)
    return round(added - taken - buckets["end"]["amount"], 2)
