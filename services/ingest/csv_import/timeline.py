"""Deals to canonical events: how a file of final states becomes a stream of changes.

A CSV export records only where each deal ended up. The events are derived from it,
deterministically (no clock, no random numbers: the same file, column map and target
date give byte-for-byte the same events).

Dates
    The dataset's *snapshot date* ("as of") is the latest engage or close date in it.
    The *cycle length* is the median number of days from engage date to close date of
    the won deals (``synthetic.default_cycle_days`` when there is none).

    - Created date: the engage date. A row without one (Prospecting rows of the Maven
      data) is *synthetic*: open deals get a day in the ``prospecting_window_days``
      before the snapshot date, closed deals their close date minus the cycle length.
    - Close date: the row's close date. An open deal has none, so it gets a *synthetic*
      planned close date: created date + cycle length, or, when that is already past
      the snapshot date (a stale deal), a day within one cycle after the snapshot date.
    - Time of day: a *synthetic* time between 08:00 and 18:00 UTC; the events of one
      deal are at least a minute apart and carry ``sequence`` 0, 1, 2, ... as well.
    - Date shift: every date moves by one whole number of days so that the snapshot
      date lands on a chosen day (``--shift-to today``): open deals then close in the
      weeks after today, and the manager list has deals closing this quarter.

Import mode (one deal.created per row, carrying its final state)
    ``deal.created`` at the close date (open deals: the created date) with the final
    stage, amount and close date; won and lost rows add ``deal.closed_won`` or
    ``deal.closed_lost`` at the same date, one minute later. Events follow file order.

Replay mode (the deal's life as a CRM would have streamed it)
    1. ``deal.created`` at the created date in the first open stage (Prospecting), with
       the list price as amount and potential value, and the close date as planned.
    2. ``deal.stage_changed`` into each later open stage the deal reached (Engaging);
       closed deals are taken to have passed through all open stages. Stage moves fall
       in the first half of the time from creation to close (open deals: to the
       snapshot date), at a point drawn from a hash of the id.
    3. ``deal.closed_won`` (with the close value as amount) or ``deal.closed_lost`` at
       the close date.
    All events of all deals are sorted by time (then deal id, then sequence).

Amounts
    Won: the close value. Lost: the list price (the data record 0 as close value of a
    lost deal, which is what was booked, not what was at stake). Open: the list price,
    which is also the potential value.

Qualification (synthetic)
    The data have no qualification evidence, yet the leader list ranks by it. Each open
    stage has a share of the six items known (``[synthetic.qualification]``); whether
    an item is known is decided by a hash of the id and the item, compared with that
    share, so a deal keeps its evidence and gains more as it advances.

Event ids are ``csv:<id>:<step>`` (import: ``import``, ``import-won``/``import-lost``;
replay: ``created``, ``stage-<stage>``, ``won``/``lost``), so importing a file twice is a
no-op downstream, and the two modes never collide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.shared.events import QUALIFICATION_ITEMS, DealChanges, DealEvent, EventType

from .config import ImportConfig
from .mapping import Deal, Outcome

SOURCE = "csv"
DAY_START = dt.time(8, 0)
DAY_MINUTES = 10 * 60
MIN_GAP = dt.timedelta(minutes=1)


class Mode(StrEnum):
    IMPORT = "import"
    REPLAY = "replay"


@dataclass(frozen=True)
class Profile:
    """What the derivation measures on the whole set of deals."""

    as_of: dt.date
    cycle_days: int


@dataclass(frozen=True)
class Derived:
    """The events of a set of deals, and how they were placed in time."""

    events: list[DealEvent]
    profile: Profile
    shift_days: int


def not_after(events: list[DealEvent], latest: dt.datetime) -> tuple[list[DealEvent], int]:
    """Events dated after ``latest`` re-dated to ``latest``, and how many were.

    Shifting the data's last day to today places some of today's events later than now,
    which ingest refuses (PR_INGEST_MAX_CLOCK_SKEW). Each event keeps its ``sequence``, so a
    deal's events stay in order when several land on the same instant.
    """
    out, moved = [], 0
    for event in events:
        if event.occurred_at > latest:
            event, moved = event.model_copy(update={"occurred_at": latest}), moved + 1
        out.append(event)
    return out, moved


def measure(deals: Sequence[Deal], config: ImportConfig, *, default_as_of: dt.date) -> Profile:
    """Snapshot date and cycle length of a set of deals."""
    dates = [d for deal in deals for d in (deal.engage_date, deal.close_date) if d is not None]
    cycles = [
        (deal.close_date - deal.engage_date).days
        for deal in deals
        if deal.outcome is Outcome.WON and deal.engage_date and deal.close_date
    ]
    cycle = max(1, round(statistics.median(cycles))) if cycles else config.default_cycle_days
    return Profile(as_of=max(dates) if dates else default_as_of, cycle_days=cycle)


def derive_events(
    deals: Sequence[Deal],
    config: ImportConfig,
    mode: Mode,
    *,
    shift_to: dt.date | None = None,
    default_as_of: dt.date | None = None,
) -> Derived:
    """All events of ``deals`` in ``mode``; dates shifted so the snapshot lands on ``shift_to``."""
    profile = measure(deals, config, default_as_of=default_as_of or shift_to or dt.date(2000, 1, 1))
    shift = (shift_to - profile.as_of).days if shift_to else 0
    events: list[DealEvent] = []
    for deal in deals:
        steps = _replay_steps(deal, profile, config) if mode is Mode.REPLAY else _import_steps(deal, profile, config)
        events.extend(_to_events(deal, steps, shift))
    if mode is Mode.REPLAY:
        events.sort(key=lambda e: (e.occurred_at, e.deal_id, e.sequence))
    return Derived(events=events, profile=profile, shift_days=shift)


def synthetic_qualification(source_id: str, stage: str, config: ImportConfig) -> dict[str, str]:
    """Deterministic evidence for a deal in an open stage (synthetic; see module docs)."""
    level = config.qualification_level(stage)
    return {item: "known" if _unit(source_id, item) < level else "unknown" for item in QUALIFICATION_ITEMS}


def created_date(deal: Deal, profile: Profile, config: ImportConfig) -> dt.date:
    """When the deal entered the pipeline (synthetic when the row has no engage date)."""
    if deal.engage_date:
        return deal.engage_date
    if deal.close_date:
        return deal.close_date - dt.timedelta(days=profile.cycle_days)
    back = int(_unit(deal.source_id, "created") * config.prospecting_window_days)
    return profile.as_of - dt.timedelta(days=back)


def planned_close(deal: Deal, profile: Profile, config: ImportConfig) -> dt.date:
    """The close date: as recorded, or synthetic for an open deal (see module docs)."""
    if deal.close_date:
        return deal.close_date
    planned = created_date(deal, profile, config) + dt.timedelta(days=profile.cycle_days)
    if planned <= profile.as_of:
        ahead = 1 + int(_unit(deal.source_id, "close") * profile.cycle_days)
        planned = profile.as_of + dt.timedelta(days=ahead)
    return planned


@dataclass(frozen=True)
class _Step:
    day: dt.date
    name: str
    type: EventType
    changes: dict


def _identity(deal: Deal) -> dict:
    fields = ("account", "owner_id", "owner_name", "team", "manager_id")
    return {"name": deal.name} | {f: getattr(deal, f) for f in fields if getattr(deal, f) is not None}


def _money(changes: dict, config: ImportConfig, amount: float | None, potential: float | None = None) -> dict:
    if amount is not None:
        changes["amount"] = amount
    if potential is not None:
        changes["potential_value"] = potential
    if config.currency and (amount is not None or potential is not None):
        changes["currency"] = config.currency
    return changes


def _last_open_stage(deal: Deal, config: ImportConfig) -> str:
    return config.open_stages[deal.open_index]


def _import_steps(deal: Deal, profile: Profile, config: ImportConfig) -> list[_Step]:
    close = planned_close(deal, profile, config)
    changes = _identity(deal) | {"stage": deal.stage, "close_date": close}
    is_open = deal.outcome is Outcome.OPEN
    potential = (deal.list_price if deal.list_price is not None else deal.booked_amount) if is_open else None
    _money(changes, config, deal.booked_amount, potential)
    changes["qualification"] = synthetic_qualification(deal.source_id, _last_open_stage(deal, config), config)
    if is_open:
        return [_Step(created_date(deal, profile, config), "import", EventType.CREATED, changes)]
    closed = _closing_step(deal, config, prefix="import-")
    return [_Step(close, "import", EventType.CREATED, changes), closed]


def _closing_step(deal: Deal, config: ImportConfig, prefix: str) -> _Step:
    assert deal.close_date is not None  # mapping rejects closed rows without one
    changes: dict = {"stage": deal.stage, "close_date": deal.close_date}
    if deal.outcome is Outcome.WON:
        _money(changes, config, deal.booked_amount)
        return _Step(deal.close_date, f"{prefix}won", EventType.CLOSED_WON, changes)
    return _Step(deal.close_date, f"{prefix}lost", EventType.CLOSED_LOST, changes)


def _replay_steps(deal: Deal, profile: Profile, config: ImportConfig) -> list[_Step]:
    created = created_date(deal, profile, config)
    first = config.open_stages[0]
    changes = _identity(deal) | {"stage": first, "close_date": planned_close(deal, profile, config)}
    open_amount = deal.open_amount
    _money(changes, config, open_amount, deal.list_price if deal.list_price is not None else open_amount)
    changes["qualification"] = synthetic_qualification(deal.source_id, first, config)
    steps = [_Step(created, "created", EventType.CREATED, changes)]

    end = deal.close_date if deal.outcome is not Outcome.OPEN else profile.as_of
    span = max(0, ((end or created) - created).days)
    moves = deal.open_index
    for j in range(1, moves + 1):
        stage = config.open_stages[j]
        # Moves fall in the first half of the span, in order, each at a hashed point.
        fraction = (j - 1 + 0.2 + 0.8 * _unit(deal.source_id, f"move-{j}")) / (2 * moves)
        day = created + dt.timedelta(days=int(span * fraction))
        move = {"stage": stage, "qualification": synthetic_qualification(deal.source_id, stage, config)}
        steps.append(_Step(day, f"stage-{_slug(stage)}", EventType.STAGE_CHANGED, move))

    if deal.outcome is not Outcome.OPEN:
        steps.append(_closing_step(deal, config, prefix=""))
    return steps


def _to_events(deal: Deal, steps: list[_Step], shift_days: int) -> list[DealEvent]:
    shift = dt.timedelta(days=shift_days)
    events: list[DealEvent] = []
    previous: dt.datetime | None = None
    for sequence, step in enumerate(steps):
        minutes = int(_unit(deal.source_id, step.name) * DAY_MINUTES)
        at = dt.datetime.combine(step.day, DAY_START, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
        if previous is not None and at < previous + MIN_GAP:
            at = previous + MIN_GAP
        previous = at
        changes = dict(step.changes)
        if "close_date" in changes:
            changes["close_date"] = changes["close_date"] + shift
        events.append(
            DealEvent(
                event_id=f"{SOURCE}:{deal.source_id}:{step.name}",
                source=SOURCE,
                deal_id=f"{SOURCE}:{deal.source_id}",
                occurred_at=at + shift,
                sequence=sequence,
                type=step.type,
                changes=DealChanges(**changes),
            )
        )
    return events


def _unit(source_id: str, salt: str) -> float:
    """A number in [0, 1) fixed by the id and the salt (stable across runs and machines)."""
    digest = hashlib.blake2b(f"{source_id}\x1f{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "stage"
