"""Manager actions on a deal, and the scorecard built from them (pure: no I/O).

Three steps:

- **Per deal** (the scoring worker, on every fold): :func:`record_action` keeps each action of a
  deal with the deal as it was at that moment (phase, amount, potential value, the unknown
  qualification items), so a later stage change never rewrites what an action touched;
  :func:`deal_facts` turns one deal's actions, its qualification history and its close into
  per-quarter facts, each action seen as the deal was then.
- **Per row** (the scoring worker): :func:`deal_parts` turns a deal's facts into the whole numbers it
  adds to each scorecard row, a row being one (quarter, team, actor). The worker keeps what each
  deal last added and adds the difference to the row's sums, which live in its table and reach
  Redis like the lists; a stage change that alters an action's facts corrects the sums it took
  part in by that difference.
- **Per actor** (review, at read time): :func:`scorecards_from_sums` turns an actor's summed rows
  into one scorecard, each figure with the counts and values it is made of; only the help
  windows still open are judged against the time of the request.

The definitions, and why each figure is there, are in docs/scorecard.md.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from services.shared.events import QUALIFICATION_ITEMS, DealEvent, Decision, EventType
from services.shared.stages import Phase, StageMap

from .history import history, time_of, value_at
from .quarters import quarter_of

if TYPE_CHECKING:
    from .state import DealState

ACTIONS = "actions"  # the state's list of actions (see DealState.actions)
ACTION_LIMIT = 200  # newest actions a deal keeps (the oldest fall off the scorecard first)
QUALIFICATION_HISTORY_LIMIT = 20
HELP_WINDOW_DAYS = 21

# The qualification items each kind of help is meant to make known (docs/scorecard.md).
HELP_TARGETS: dict[str, tuple[str, ...]] = {
    "access": ("economic_buyer", "champion"),
    "qualification": ("pain", "metrics", "decision_criteria", "decision_process"),
    "acceleration": ("decision_process",),
    "executive_sponsor": ("economic_buyer",),
    "discount": (),
}
HELP_KINDS = tuple(HELP_TARGETS)
GRANTING = (Decision.APPROVED.value, Decision.COUNTERED.value)

VERDICT_LEADER, VERDICT_MANAGER, VERDICT_MIXED = "leader", "manager", "mixed"
# The row's actor for the help baseline: reviews with no help in the window after (actor names are never empty).
BASELINE = ""


# --------------------------------------------------------------------- per deal (scoring)


def qualification_field(item: str) -> str:
    return f"qualification.{item}"


SCORECARD_HISTORY = (*(f"qualification.{item}" for item in QUALIFICATION_ITEMS), "potential_value")


def record_qualification(movement: dict[str, Any], key: tuple, changes: dict[str, Any]) -> None:
    """Insert this event's qualification values and potential value at the event's place in their histories.

    The same layout as the movement histories (``[order key, value]``, oldest first), so the help
    figure can tell when an item became known, and an action what the deal was worth then,
    whatever order the events arrived in."""
    entry_key = list(key)
    for name in SCORECARD_HISTORY:
        if name not in changes:
            continue
        entries = movement.setdefault(name, [])
        at = bisect.bisect_left(entries, entry_key, key=lambda entry: entry[0])
        if at < len(entries) and entries[at][0] == entry_key:
            continue
        entries.insert(at, [entry_key, changes[name]])
        del entries[:-QUALIFICATION_HISTORY_LIMIT]


def action_changes(event: DealEvent) -> dict[str, Any]:
    """The deal fields an action sets: a decision records itself, and a granted discount is the deal's discount."""
    action = event.action
    if event.type is not EventType.DISCOUNT_DECIDED or action is None:
        return {}
    changes: dict[str, Any] = {
        "discount_decision": action.decision.value if action.decision else None,
        "discount_decided_by": action.by,
        "discount_alert_id": action.alert_id,
    }
    if action.decision is not None and action.decision.value in GRANTING:
        changes["discount_pct"] = action.discount_pct
    return changes


def action_value(phase: str, amount: float, potential_value: float) -> float:
    """What an action touched: the potential value of an early deal, the amount of any other."""
    return potential_value if phase == Phase.EARLY.value else amount


def record_action(
    actions: list[dict[str, Any]],
    event: DealEvent,
    key: tuple,
    fields: dict[str, Any],
    qualification: dict[str, str],
    phase: Phase,
) -> None:
    """Keep one action with the deal as it was when it happened (``fields`` before the action's own changes).

    Kept in order-key order, once per event id, the newest ``ACTION_LIMIT``."""
    action = event.action
    if action is None or any(a["event_id"] == event.event_id for a in actions):
        return
    amount = float(fields.get("amount") or 0.0)
    potential = fields.get("potential_value")  # None: the source gave none (then the amount counts)
    entry: dict[str, Any] = {
        "key": list(key),
        "event_id": event.event_id,
        "type": event.type.value,
        "at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "by": action.by,
        "phase": phase.value,
        "amount": amount,
        "potential_value": potential,
        "unknown": [item for item, evidence in qualification.items() if evidence != "known"],
    }
    if action.kind is not None:
        entry["kind"] = action.kind.value
    if action.decision is not None:
        entry["decision"] = action.decision.value
        entry["alert_id"] = action.alert_id
        entry["discount_pct"] = action.discount_pct
        entry["requested_pct"] = action.requested_pct
    at = bisect.bisect_left(actions, entry["key"], key=lambda a: a["key"])
    actions.insert(at, entry)
    del actions[:-ACTION_LIMIT]


def known_after(movement: dict[str, Any], item: str, key: list) -> str | None:
    """When ``item`` was first reported known after the order key ``key`` (ISO), or None."""
    for entry_key, value in history(movement, qualification_field(item)):
        if entry_key > key and value == "known":
            return time_of(entry_key).isoformat()
    return None


def closed_at(status: str, movement: dict[str, Any], stamps: dict[str, Any]) -> list | None:
    """The order key of the event that closed the deal as ``status`` (won or lost), or None."""
    if status not in ("won", "lost"):
        return None
    for entry_key, value in reversed(history(movement, "status")):
        if value == status:
            return list(entry_key)
    stamp = stamps.get("status")
    return list(stamp) if stamp else None


def as_of(action: dict[str, Any], movement: dict[str, Any], stage_map: StageMap, source: str) -> dict[str, Any]:
    """The deal as it was at the action's place in the deal's order: phase, amount, unknown items.

    Read from the ordered histories, so the answer does not depend on the order the events
    arrived in (a CRM event folded after the action but dated before it counts as before). Where
    a history has nothing before the action (its oldest entries fell off, or the state predates
    the qualification history) the snapshot taken when the action was folded stands."""
    micros = action["key"][0]
    snapshot = {"phase": action["phase"], "amount": action["amount"], "unknown": action["unknown"]}
    potential = action["potential_value"]
    has_stage, stage = value_at(movement, "stage", micros)
    has_status, status = value_at(movement, "status", micros)
    if has_status and status in ("won", "lost"):
        snapshot["phase"] = status
    elif has_stage and stage:
        snapshot["phase"] = stage_map.phase(stage, source).value
    has_amount, amount = value_at(movement, "amount", micros)
    if has_amount:
        snapshot["amount"] = float(amount or 0.0)
    if history(movement, "potential_value"):
        has_potential, value = value_at(movement, "potential_value", micros)
        potential = value if has_potential else None
    # potential_value defaults to the amount when the source gives none (docs/contracts.md).
    snapshot["potential_value"] = snapshot["amount"] if potential is None else float(potential)
    unknown = []
    for item in QUALIFICATION_ITEMS:
        name = qualification_field(item)
        if history(movement, name):
            known, value = value_at(movement, name, micros)
            if not known or value != "known":
                unknown.append(item)
        elif item in action["unknown"]:
            unknown.append(item)
    snapshot["unknown"] = unknown
    return snapshot


def deal_facts(
    deal_id: str,
    team: str,
    status: str,
    amount: float,
    actions: list[dict[str, Any]],
    movement: dict[str, Any],
    stamps: dict[str, Any],
    stage_map: StageMap,
    source: str = "",
) -> dict[str, dict[str, Any]]:
    """What one deal adds to each quarter's scorecards: quarter -> facts (JSON-friendly).

    A quarter's facts hold the deal's actions of that quarter (help and reviews with, per
    unknown qualification item, when it became known) and, in the quarter the deal closed, the
    close with each actor's first touch before it. Each action sees the deal as it was then
    (:func:`as_of`)."""
    if not actions:
        return {}
    actions = [{**action, **as_of(action, movement, stage_map, source)} for action in actions]
    out: dict[str, dict[str, Any]] = {}

    def facts(quarter: str) -> dict[str, Any]:
        return out.setdefault(quarter, {"deal_id": deal_id, "team": team, "actions": []})

    help_times = [a["key"][0] for a in actions if a["type"] == EventType.HELP_OFFERED.value]
    window = HELP_WINDOW_DAYS * 86_400 * 1_000_000
    for action in actions:
        when = time_of(action["key"])
        item = {k: action[k] for k in ("event_id", "type", "at", "by", "phase", "amount", "potential_value")}
        item["key"] = action["key"]
        item["value"] = action_value(action["phase"], action["amount"], action["potential_value"])
        if action["type"] == EventType.HELP_OFFERED.value:
            item["kind"] = action["kind"]
            item["targets"] = {
                i: known_after(movement, i, action["key"])
                for i in HELP_TARGETS.get(action["kind"], ())
                if i in action["unknown"]
            }
        elif action["type"] == EventType.REVIEWED.value:
            start = action["key"][0]
            item["helped"] = any(start <= t <= start + window for t in help_times)
            item["unknown"] = {i: known_after(movement, i, action["key"]) for i in action["unknown"]}
        else:
            for name in ("decision", "alert_id", "discount_pct", "requested_pct"):
                item[name] = action.get(name)
        facts(quarter_of(when.date()))["actions"].append(item)
    close_key = closed_at(status, movement, stamps)
    if close_key is not None:
        first: dict[str, str] = {}
        for action in actions:  # oldest first
            if action["key"] <= close_key:
                first.setdefault(action["by"], action["phase"])
        if first:
            facts(quarter_of(time_of(close_key).date()))["closed"] = {
                "status": status,
                "at": time_of(close_key).isoformat(),
                "amount": amount,
                "first_touch": first,
            }
    return out


# --------------------------------------------------------------------- per row (scoring)

Row = tuple[str, str, str]  # (quarter, team, actor); actor BASELINE: the help baseline
Counts = dict[str, int]  # counter name -> whole number (values in cents), zeros left out


def _cents(value: float) -> int:
    return round(value * 100)


def _window_hour(at: str) -> int:
    """The hour (since the epoch) from which a help window opened at ``at`` counts as closed.

    Rounded up to the whole hour so a row holds one counter per hour, not per action."""
    end = dt.datetime.fromisoformat(at) + dt.timedelta(days=HELP_WINDOW_DAYS)
    return math.ceil(end.timestamp() / 3600)


def _outcome(known_at: str | None, at: str) -> str:
    """``known`` when the item became known within the window, else ``open.<hour it closes>``."""
    end = dt.datetime.fromisoformat(at) + dt.timedelta(days=HELP_WINDOW_DAYS)
    if known_at is not None and dt.datetime.fromisoformat(known_at) <= end:
        return "known"
    return f"open.{_window_hour(at)}"


ACTION_COUNTERS = {
    EventType.REVIEWED.value: "actions.reviews",
    EventType.HELP_OFFERED.value: "actions.help",
    EventType.DISCOUNT_DECIDED.value: "actions.decisions",
}


def deal_parts(facts: Mapping[str, dict[str, Any]]) -> dict[Row, Counts]:
    """What one deal adds to each scorecard row, from its facts (quarter -> :func:`deal_facts`'s facts).

    Whole numbers only (values in cents), so sums of differences are exact in any order."""
    parts: dict[Row, Counter[str]] = defaultdict(Counter)
    for quarter, deal in facts.items():
        team = deal.get("team", "")
        latest: dict[str, dict[str, Any]] = {}  # alert id -> the decision that stands (the latest)
        for action in deal["actions"]:
            row = parts[(quarter, team, action["by"])]
            row[ACTION_COUNTERS[action["type"]]] += 1
            value = _cents(action["value"])
            row["touched.count"] += 1
            row["touched.cents"] += value
            if action["phase"] == Phase.EARLY.value:
                row["early.count"] += 1
                row["early.cents"] += value
            if action["type"] == EventType.DISCOUNT_DECIDED.value:
                previous = latest.get(action["alert_id"])
                if previous is None or action["key"] > previous["key"]:
                    latest[action["alert_id"]] = action
            elif action["type"] == EventType.HELP_OFFERED.value:
                kind = action["kind"]
                row[f"help.{kind}.offered"] += 1
                row[f"help.{kind}.phase.{action['phase']}"] += 1
                for known_at in action["targets"].values():
                    row[f"help.{kind}.{_outcome(known_at, action['at'])}"] += 1
            elif action["type"] == EventType.REVIEWED.value and not action["helped"]:
                base = parts[(quarter, team, BASELINE)]
                for item, known_at in action["unknown"].items():
                    base[f"base.{action['phase']}.{item}.{_outcome(known_at, action['at'])}"] += 1
        for decision in latest.values():
            if decision["decision"] in GRANTING and decision["phase"] == Phase.LATE.value:
                row = parts[(quarter, team, decision["by"])]
                row["late_discounts.count"] += 1
                row["late_discounts.cents"] += _cents(decision["amount"] * (decision["discount_pct"] or 0.0) / 100.0)
        closed = deal.get("closed")
        if closed:
            for actor, phase in closed["first_touch"].items():
                row = parts[(quarter, team, actor)]
                row["early_touch.closed_touched"] += 1
                if phase == Phase.EARLY.value:
                    row["early_touch.first_touched_early"] += 1
                if closed["status"] == "won":
                    row["won.count"] += 1
                    row["won.cents"] += _cents(closed["amount"])
    return {row: dict(counts) for row, counts in parts.items() if counts}


def state_facts(state: DealState, stage_map: StageMap) -> dict[str, dict[str, Any]]:
    """:func:`deal_facts` of a deal in this state: quarter -> facts."""
    return deal_facts(
        state.deal_id,
        state.get("team", ""),
        state.status,
        float(state.get("amount", 0.0)),
        state.actions,
        state.movement,
        state.stamps,
        stage_map,
        state.source,
    )


def state_parts(state: DealState, stage_map: StageMap) -> dict[str, Counts]:
    """What a deal in this state adds to each scorecard row: row id -> counts (none without actions)."""
    if not state.actions:
        return {}
    return {row_id(row): counts for row, counts in deal_parts(state_facts(state, stage_map)).items()}


def row_id(row: Row) -> str:
    """A row as one string, ``["2026Q4","East","ana"]`` (the deal state's and the table's name for it)."""
    return orjson.dumps(list(row)).decode()


def parse_row_id(raw: str | bytes) -> Row:
    quarter, team, actor = orjson.loads(raw)
    return quarter, team, actor


def add_counts(into: Counts, counts: Mapping[str, int], sign: int = 1) -> None:
    """``into += sign * counts``, in place, dropping the counters that reach zero."""
    for name, value in counts.items():
        total = into.get(name, 0) + sign * value
        if total:
            into[name] = total
        else:
            into.pop(name, None)


def part_changes(old: Mapping[str, Counts], new: Mapping[str, Counts]) -> dict[str, Counts]:
    """Row id -> what to add to that row's sums when a deal's parts go from ``old`` to ``new``."""
    changes: dict[str, Counts] = {}
    for rid in old.keys() | new.keys():
        before, after = old.get(rid, {}), new.get(rid, {})
        if before == after:
            continue
        delta = dict(after)
        add_counts(delta, before, -1)
        if delta:
            changes[rid] = delta
    return changes


# --------------------------------------------------------------------- per actor (review)


@dataclass(frozen=True)
class Thresholds:
    """Where the verdict's lines are drawn (review settings, docs/scorecard.md)."""

    leader_share: float = 0.5  # at or above: attention mostly on early deals
    discount_intensity: float = 0.02  # at or below: little value given away per value won


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def verdict(leader_share: float | None, late_value: float, won_amount: float, thresholds: Thresholds) -> str:
    """leader: early-heavy attention and little given away; manager: the opposite on both; mixed otherwise.

    Without touched value there is no attention to judge (mixed). Discounts given with nothing won
    count as above any intensity threshold; no discount at all as zero intensity."""
    if leader_share is None:
        return VERDICT_MIXED
    if late_value == 0:
        intensity = 0.0
    elif won_amount == 0:
        intensity = float("inf")
    else:
        intensity = late_value / won_amount
    early = leader_share >= thresholds.leader_share
    frugal = intensity <= thresholds.discount_intensity
    if early and frugal:
        return VERDICT_LEADER
    if not early and not frugal:
        return VERDICT_MANAGER
    return VERDICT_MIXED


def _tally(counts: Mapping[str, int], prefix: str, as_of: dt.datetime) -> dict[str, int]:
    """The ``known`` / ``not_known`` / ``pending`` items among the counters under ``prefix``:
    an item not known within its window is ``pending`` until the window closes."""
    tally = {"known": counts.get(f"{prefix}.known", 0), "not_known": 0, "pending": 0}
    now_hours = as_of.timestamp() / 3600
    opened = f"{prefix}.open."
    for name, value in counts.items():
        if name.startswith(opened):
            tally["not_known" if now_hours >= int(name[len(opened) :]) else "pending"] += value
    return tally


def _add_tally(into: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        into[name] += value


def _rate(counts: dict[str, int]) -> float | None:
    """Items that became known, of those whose window has closed or that became known."""
    decided = counts["known"] + counts["not_known"]
    return _share(counts["known"], decided)


def sum_rows(rows: Iterable[tuple[str, Mapping[str, int]]]) -> dict[str, Counts]:
    """Actor -> the sums of that actor's rows (any number of teams and partitions)."""
    sums: dict[str, Counts] = defaultdict(dict)
    for actor, counts in rows:
        add_counts(sums[actor], counts)
    return {actor: counts for actor, counts in sums.items() if counts}


def scorecards(
    facts: Iterable[dict[str, Any]], quarter: str, as_of: dt.datetime, thresholds: Thresholds = Thresholds()
) -> list[dict[str, Any]]:
    """One scorecard per actor from a quarter's deal facts (see :func:`deal_facts`), by actor name:
    the rows the facts add up to, read by :func:`scorecards_from_sums`."""
    rows = (
        (actor, counts) for deal in facts for (_quarter, _team, actor), counts in deal_parts({quarter: deal}).items()
    )
    return scorecards_from_sums(sum_rows(rows), quarter, as_of, thresholds)


def _part(counts: Mapping[str, int], name: str, unit: str = "value") -> dict[str, Any]:
    """``{"count": ..., unit: ...}`` of one summed figure (its value back from cents)."""
    return {"count": counts.get(f"{name}.count", 0), unit: counts.get(f"{name}.cents", 0) / 100}


def scorecards_from_sums(
    sums: Mapping[str, Mapping[str, int]], quarter: str, as_of: dt.datetime, thresholds: Thresholds = Thresholds()
) -> list[dict[str, Any]]:
    """One scorecard per actor from the actors' summed rows (``sums[BASELINE]``: the help baseline)."""
    baseline = sums.get(BASELINE, {})
    items = []
    for actor in sorted(a for a in sums if a != BASELINE):
        counts = sums[actor]
        touched, early = _part(counts, "touched"), _part(counts, "early")
        leader_share = _share(counts.get("early.cents", 0), counts.get("touched.cents", 0))
        late, won = _part(counts, "late_discounts"), _part(counts, "won", "amount")
        early_touch = {
            "closed_touched": counts.get("early_touch.closed_touched", 0),
            "first_touched_early": counts.get("early_touch.first_touched_early", 0),
        }
        help_out = {}
        for kind, targets in HELP_TARGETS.items():
            outcomes = _tally(counts, f"help.{kind}", as_of)
            phases = sorted(name.rsplit(".", 1)[1] for name in counts if name.startswith(f"help.{kind}.phase."))
            base = {"known": 0, "not_known": 0, "pending": 0}
            for phase in phases:
                for item in targets:
                    _add_tally(base, _tally(baseline, f"base.{phase}.{item}", as_of))
            rate, base_rate = _rate(outcomes), _rate(base)
            help_out[kind] = {
                "offered": counts.get(f"help.{kind}.offered", 0),
                "targets": list(targets),
                "items": outcomes,
                "known_rate": rate,
                "baseline": {"phases": phases, "items": base, "known_rate": base_rate},
                "lift": round(rate - base_rate, 4) if rate is not None and base_rate is not None else None,
            }
        items.append(
            {
                "actor": actor,
                "quarter": quarter,
                "leader_share": leader_share,
                "leader_share_parts": {
                    "early": early,
                    "touched": touched,
                    "formula": "early.value / touched.value (value: potential value when early, amount otherwise)",
                },
                "early_touch_share": _share(early_touch["first_touched_early"], early_touch["closed_touched"]),
                "early_touch_parts": early_touch,
                "late_discounts": late,
                "late_discount_intensity": _share(late["value"], won["amount"]),
                "late_discount_intensity_parts": {
                    "late_discount_value": late["value"],
                    "won": won,
                    "formula": "late_discounts.value / won.amount",
                },
                "help": help_out,
                "actions": {
                    "reviews": counts.get("actions.reviews", 0),
                    "help": counts.get("actions.help", 0),
                    "decisions": counts.get("actions.decisions", 0),
                },
                "verdict": verdict(leader_share, late["value"], won["amount"], thresholds),
                "verdict_parts": {
                    "leader_share_at_least": thresholds.leader_share,
                    "late_discount_intensity_at_most": thresholds.discount_intensity,
                },
            }
        )
    return items
