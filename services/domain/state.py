"""Deal state folded from canonical events.

Every field is a last-writer-wins register stamped with the event's order key
(occurred_at, source sequence, event_id). Applying events in any order, any number of
times, gives the same state as applying them once in order: an older event that arrives
late never rolls a field back, and a duplicate changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.shared.events import QUALIFICATION_ITEMS, DealEvent, EventType
from services.shared.stages import Phase, StageMap

from .history import copy_movement, record_movement
from .scorecard import action_changes, record_action, record_qualification

OrderKey = tuple[int, int, str]  # (occurred_at in µs since epoch, sequence, event_id)

TIMELINE_LIMIT = 200
SEEN_LIMIT = 500
TIMELINE_FIELDS = ("stage", "amount", "close_date", "discount_pct")

STATUS_OPEN, STATUS_WON, STATUS_LOST, STATUS_DELETED = "open", "won", "lost", "deleted"


def order_key(event: DealEvent) -> OrderKey:
    """The total order of one deal's events: time in the CRM, then sequence, then id."""
    micros = int(event.occurred_at.timestamp() * 1_000_000)
    return (micros, event.sequence if event.sequence is not None else -1, event.event_id)


@dataclass
class DealState:
    """The current state of one deal; JSON-friendly through to_dict/from_dict."""

    deal_id: str
    source: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    stamps: dict[str, OrderKey] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    last_key: OrderKey | None = None
    # Ordered histories of the fields pipeline movement needs (see movement.py).
    movement: dict[str, Any] = field(default_factory=dict)
    # Manager actions with the deal as it was at each (see scorecard.py), oldest first.
    actions: list[dict[str, Any]] = field(default_factory=list)
    # What this deal last added to each scorecard row (row id -> counts, scorecard.deal_parts):
    # the worker adds only the difference to the rows' sums, so it must remember what it added.
    scorecard: dict[str, dict[str, int]] = field(default_factory=dict)

    # -- reading -------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        value = self.fields.get(name)
        return default if value is None else value

    @property
    def status(self) -> str:
        return self.fields.get("status") or STATUS_OPEN

    @property
    def exists(self) -> bool:
        return bool(self.stamps)

    def qualification(self) -> dict[str, str]:
        """Each qualification item as known/unknown (unknown when never reported)."""
        return {item: self.fields.get(f"qualification.{item}") or "unknown" for item in QUALIFICATION_ITEMS}

    def close_date(self) -> dt.date | None:
        raw = self.fields.get("close_date")
        return dt.date.fromisoformat(raw) if raw else None

    def phase(self, stage_map: StageMap) -> Phase:
        """Journey phase: closed status wins, otherwise the stage decides."""
        if self.status == STATUS_WON:
            return Phase.WON
        if self.status == STATUS_LOST:
            return Phase.LOST
        phase = stage_map.phase(self.fields.get("stage"), self.source)
        # An open deal whose stage says won/lost but no close event came: trust the stage.
        return phase

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "deal_id": self.deal_id,
            "source": self.source,
            "fields": self.fields,
            "stamps": {k: list(v) for k, v in self.stamps.items()},
            "timeline": self.timeline,
            "seen": self.seen,
            "last_key": list(self.last_key) if self.last_key else None,
            "movement": self.movement,
            "actions": self.actions,
            "scorecard": self.scorecard,
        }

    def copy(self) -> DealState:
        """An independent copy (what ``from_dict(to_dict())`` gives, without the conversions)."""
        return DealState(
            self.deal_id,
            self.source,
            dict(self.fields),
            dict(self.stamps),
            list(self.timeline),
            list(self.seen),
            self.last_key,
            copy_movement(self.movement),
            list(self.actions),
            dict(self.scorecard),
        )

    def encode(self) -> bytes:
        """Compact JSON of :meth:`to_dict` (what the deal table stores)."""
        # The copy into an exact-size object matters: the table keeps these for the life of
        # the worker, and orjson's grown-then-shrunk buffers left the allocator so fragmented
        # that 100k stored states cost 790 MB of RSS instead of 170 MB.
        return bytes(memoryview(orjson.dumps(self._wire_dict())))

    def _wire_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` for orjson, which writes a tuple as the array the list would be: the
        same bytes, without converting every stamp (the test of encode checks it)."""
        return {
            "deal_id": self.deal_id,
            "source": self.source,
            "fields": self.fields,
            "stamps": self.stamps,
            "timeline": self.timeline,
            "seen": self.seen,
            "last_key": self.last_key or None,
            "movement": self.movement,
            "actions": self.actions,
            "scorecard": self.scorecard,
        }

    @classmethod
    def decode(cls, raw: bytes | str | dict[str, Any]) -> DealState:
        """The state :meth:`encode` wrote (a plain dict, as older table values hold, is accepted too)."""
        if isinstance(raw, dict):
            return cls.from_dict(raw)
        return cls._from_parsed(orjson.loads(raw))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DealState:
        return cls(
            deal_id=raw["deal_id"],
            source=raw.get("source", ""),
            fields=dict(raw.get("fields", {})),
            stamps={k: tuple(v) for k, v in raw.get("stamps", {}).items()},
            timeline=list(raw.get("timeline", [])),
            seen=list(raw.get("seen", [])),
            last_key=tuple(raw["last_key"]) if raw.get("last_key") else None,
            movement=copy_movement(raw.get("movement") or {}),
            actions=list(raw.get("actions") or []),
            scorecard=dict(raw.get("scorecard") or {}),
        )

    @classmethod
    def _from_parsed(cls, raw: dict[str, Any]) -> DealState:
        """:meth:`from_dict` of a dict just parsed, which nothing else holds: its containers are
        taken as they are instead of copied (equal to what from_dict gives)."""
        last_key = raw.get("last_key")
        return cls(
            deal_id=raw["deal_id"],
            source=raw.get("source", ""),
            fields=raw.get("fields", {}),
            stamps={k: tuple(v) for k, v in raw.get("stamps", {}).items()},
            timeline=raw.get("timeline", []),
            seen=raw.get("seen", []),
            last_key=tuple(last_key) if last_key else None,
            movement=raw.get("movement") or {},
            actions=raw.get("actions") or [],
            scorecard=raw.get("scorecard") or {},
        )


@dataclass(frozen=True)
class Applied:
    """What applying one event did."""

    state: DealState
    duplicate: bool


def _status_from(event: DealEvent, stage_phase: Phase | None) -> str | None:
    if event.type is EventType.DELETED:
        return STATUS_DELETED
    if event.type is EventType.CLOSED_WON:
        return STATUS_WON
    if event.type is EventType.CLOSED_LOST:
        return STATUS_LOST
    if stage_phase is not None:
        if stage_phase is Phase.WON:
            return STATUS_WON
        if stage_phase is Phase.LOST:
            return STATUS_LOST
        return STATUS_OPEN  # a stage move back into the pipeline reopens the deal
    if event.type is EventType.CREATED:
        return STATUS_OPEN
    return None


def _flatten(changes: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "qualification" and isinstance(value, dict):
            for item, evidence in value.items():
                flat[f"qualification.{item}"] = evidence
        else:
            flat[name] = value
    return flat


def apply_event(state: DealState | None, event: DealEvent, stage_map: StageMap, in_place: bool = False) -> Applied:
    """Fold one event into a deal's state.

    Returns a new state and leaves the input unchanged, unless ``in_place``: then the given
    state is updated and returned (for a caller that owns it, e.g. a batch's working copy).
    """
    base = state if state is not None else DealState(deal_id=event.deal_id, source=event.source)
    if event.event_id in base.seen:
        return Applied(base, duplicate=True)
    new = base if (in_place or state is None) else base.copy()
    if not new.source:
        new.source = event.source
    key = order_key(event)
    changes = _flatten(event.changed_fields())
    if event.action is not None:
        # The deal as the action found it, before the action's own changes (a granted discount).
        record_action(new.actions, event, key, new.fields, new.qualification(), new.phase(stage_map))
        changes.update(action_changes(event))
    stage_phase = stage_map.phase(changes["stage"], event.source) if changes.get("stage") else None
    status = _status_from(event, stage_phase)
    if status is not None:
        changes["status"] = status
    for name, value in changes.items():
        if name not in new.stamps or key > new.stamps[name]:
            new.fields[name] = value
            new.stamps[name] = key
    new.stamps.setdefault("_created", key)
    if key < new.stamps["_created"]:
        new.stamps["_created"] = key
    new.last_key = max(new.last_key, key) if new.last_key else key
    _record_timeline(new, event, key, changes)
    record_movement(new.movement, key, changes)
    record_qualification(new.movement, key, changes)
    new.seen.append(event.event_id)
    if len(new.seen) > SEEN_LIMIT:
        new.seen = new.seen[-SEEN_LIMIT:]
    return Applied(new, duplicate=False)


def _record_timeline(state: DealState, event: DealEvent, key: OrderKey, changes: dict[str, Any]) -> None:
    shown = {name: changes[name] for name in (*TIMELINE_FIELDS, "status") if name in changes}
    if not shown and event.type is not EventType.DISCOUNT_REQUESTED and event.action is None:
        return
    if any(e["event_id"] == event.event_id for e in state.timeline):
        return
    entry: dict[str, Any] = {
        "key": list(key),
        "event_id": event.event_id,
        "type": event.type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "changes": shown,
    }
    if event.type is EventType.DISCOUNT_REQUESTED and "requested_by" in changes:
        entry["changes"]["requested_by"] = changes["requested_by"]
    if event.action is not None:
        entry["action"] = event.action.model_dump(mode="json", exclude_none=True)
    state.timeline.append(entry)
    state.timeline.sort(key=lambda e: tuple(e["key"]))
    if len(state.timeline) > TIMELINE_LIMIT:
        del state.timeline[: len(state.timeline) - TIMELINE_LIMIT]


def fold(events: list[DealEvent], stage_map: StageMap, state: DealState | None = None) -> DealState | None:
    """Fold many events (of one deal) in the order given."""
    for event in events:
        state = apply_event(state, event, stage_map).state
    return state
