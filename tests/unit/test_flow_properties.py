"""The quarter's flow reconciles for any event history, and rebuilds the deal as it was then."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain import movement as mv
from services.domain.quarters import previous_quarter
from services.domain.state import fold
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
QUARTER = "2026Q4"
BEGINS, ENDS = mv.quarter_instants(QUARTER)
EPOCH = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)  # events from two months before the quarter...
SPAN_DAYS = 200  # ...to a month after it

# Close dates around the quarter (before, inside, after), so deals move in and out of it.
close_date = st.sampled_from(["2026-09-15", "2026-10-01", "2026-11-20", "2026-12-31", "2027-01-01", "2027-03-10"])
change = st.fixed_dictionaries(
    {},
    optional={
        "stage": st.sampled_from(
            ["Prospecting", "Value Proposition", "Negotiation/Review", "Closed Won", "Closed Lost"]
        ),
        "amount": st.integers(0, 10**6) | st.floats(0, 10**6, allow_nan=False).map(lambda x: round(x, 2)),
        "close_date": close_date,
    },
)
kind = st.sampled_from(
    ["deal.created", "deal.updated", "deal.stage_changed", "deal.closed_won", "deal.closed_lost", "deal.deleted"]
)


@st.composite
def histories(draw):
    deals = {}
    for d in range(draw(st.integers(1, 6))):
        deal_id = f"api:f{d}"
        deals[deal_id] = [
            event(
                deal_id=deal_id,
                type=draw(kind),
                event_id=f"{deal_id}-{i}",
                at=EPOCH + dt.timedelta(days=draw(st.integers(0, SPAN_DAYS)), hours=draw(st.integers(0, 23))),
                **draw(change),
            )
            for i in range(draw(st.integers(1, 8)))
        ]
    as_of = EPOCH + dt.timedelta(days=draw(st.integers(61, SPAN_DAYS)))  # from the quarter's first day on
    return deals, as_of, draw(st.randoms())


def in_quarter(state) -> bool:
    first, last = (BEGINS.date(), (ENDS - dt.timedelta(days=1)).date())
    return (
        state is not None
        and state.status == "open"
        and state.close_date() is not None
        and first <= state.close_date() <= last
    )


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_buckets_reconcile_for_any_event_history(drawn):
    deals, as_of, rnd = drawn
    parts = []
    for events in deals.values():
        shuffled = list(events)
        rnd.shuffle(shuffled)  # arrival order must not matter
        part = mv.deal_flow(fold(shuffled, STAGES), QUARTER, as_of)
        assert part == mv.deal_flow(fold(events, STAGES), QUARTER, as_of)
        parts.append(part)
    buckets = mv.flow_totals(parts)
    assert mv.reconciliation_gap(buckets) == pytest.approx(0, abs=0.01 * (len(deals) + 1))
    counts = {name: b["count"] for name, b in buckets.items()}
    assert (
        counts["start"] + counts["new"] + counts["pulled_in"] - counts["pushed_out"] - counts["won"] - counts["lost"]
        == counts["end"]
    )


@settings(max_examples=300, deadline=None)
@given(histories())
def test_start_and_end_are_the_pipeline_folded_from_the_events_before_then(drawn):
    """The histories rebuild the deal as it was: the same as folding only the events up to that instant."""
    deals, as_of, _ = drawn
    until = min(as_of, ENDS - dt.timedelta(microseconds=1))
    for events in deals.values():
        part = mv.deal_flow(fold(events, STAGES), QUARTER, as_of)
        before = fold([e for e in events if e.occurred_at < BEGINS], STAGES)
        after = fold([e for e in events if e.occurred_at <= until], STAGES)
        assert ("start" in part) == in_quarter(before)
        assert ("end" in part) == in_quarter(after)
        if "start" in part:
            assert part["start"] == float(before.get("amount", 0.0))
        if "end" in part:
            assert part["end"] == float(after.get("amount", 0.0))


def reference_deal_flow(state, quarter: str, as_of: dt.datetime) -> dict[str, float]:
    """deal_flow as it was before the snapshots were shared: every snapshot rebuilt from the histories."""
    first_day, last_day = mv.quarter_bounds(quarter)
    begins, ends = mv.quarter_instants(quarter)
    until = min(as_of, ends - dt.timedelta(microseconds=1))
    before = mv.snapshot_at(state, begins - dt.timedelta(microseconds=1))
    after = mv.snapshot_at(state, until)
    was_in, is_in = before.in_quarter(first_day, last_day), after.in_quarter(first_day, last_day)
    parts: dict[str, float] = {}
    if not was_in and not is_in:
        closed_here = (
            after.status in mv.EXIT_BY_STATUS
            and after.close_date is not None
            and first_day <= after.close_date <= last_day
            and mv._status_changed_within(state, begins, until)
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
        parts[mv.EXIT_BY_STATUS.get(after.status, "pushed_out")] = after.amount
    return parts


@settings(max_examples=300, deadline=None)
@given(histories(), st.sampled_from(["2026Q3", "2026Q4", "2027Q1"]))
def test_deal_flows_share_snapshots_without_changing_a_part(drawn, current):
    """deal_flows (what place writes: the current and the previous quarter) gives each quarter what
    rebuilding every snapshot gives, whether the deal changed inside the quarters or not."""
    deals, as_of, _ = drawn
    first, _last = mv.quarter_bounds(current)
    as_of = max(as_of, dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC))  # as_of lies in the current quarter
    quarters = (current, previous_quarter(current))
    for events in deals.values():
        state = fold(events, STAGES)
        flows = mv.deal_flows(state, quarters, as_of)
        assert flows == {q: reference_deal_flow(state, q, as_of) for q in quarters}
        assert flows == {q: mv.deal_flow(state, q, as_of) for q in quarters}


@settings(max_examples=200, deadline=None)
@given(histories(), st.lists(st.integers(-(10**6), 210 * 86_400 * 10**6), min_size=1, max_size=20))
def test_a_shared_snapshot_is_the_one_rebuilt_at_that_instant(drawn, offsets):
    """Past the newest change every instant shares one snapshot; before it each is its own."""
    deals, _, _ = drawn
    base = mv.micros_of(EPOCH)
    for events in deals.values():
        state = fold(events, STAGES)
        snapshots = mv._Snapshots(state)
        keys = [key[0] for name in ("status", "amount", "close_date") for key, _ in state.movement.get(name, [])]
        instants = [base + offset for offset in offsets] + keys + [k - 1 for k in keys] + [k + 1 for k in keys]
        for micros in instants:
            assert snapshots.at(micros) == mv._snapshot_at_micros(state, micros)


def test_a_deal_with_no_history_has_one_empty_snapshot():
    state = mv.DealState(deal_id="api:none")
    snapshots = mv._Snapshots(state)
    assert snapshots.at(0) == snapshots.at(10**18) == mv.Snapshot(False, "open", 0.0, None)


def reference_stall_alerted(state) -> bool:
    entry = mv._current_stage_run(state)
    stall_event = state.movement.get(mv.STALL_ALERTED)
    return stall_event is not None and entry is not None and stall_event == entry[0][2]


@settings(max_examples=300, deadline=None)
@given(histories(), st.booleans())
def test_a_known_stall_answers_what_the_stage_history_answers(drawn, alerted):
    """place() hands its stall to is_stalled, stall_due and movement_fields: they must answer what
    reading the stage history again answers (with and without the stall alerted)."""
    deals, _, _ = drawn
    for events in deals.values():
        state = fold(events, STAGES)
        if alerted:
            mv.mark_stall_alerted(state)
        stall = mv.stall_of(state, STAGES)
        assert mv.is_stalled(state, STAGES, stall) == (stall is not None and reference_stall_alerted(state))
        due = mv.stall_due(state, STAGES, stall)
        assert due == (None if stall is None or reference_stall_alerted(state) else stall.due_at.timestamp())
        entered = mv.stage_entered_at(state)
        assert mv.movement_fields(state, STAGES, stall)["stage_entered_at"] == (
            entered.isoformat() if entered else None
        )
        open_phase = state.phase(STAGES) if state.status == "open" and state.phase(STAGES).is_open else None
        assert mv._open_phase(state, STAGES) is open_phase


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_alert_rules_read_the_changes_set_as_changed_fields_has_them(drawn):
    """The push and gap rules test the event's set fields instead of building changed_fields()."""
    deals, _, _ = drawn
    for events in deals.values():
        for e in events:
            fields = e.changed_fields()
            assert ("close_date" in e.changes.model_fields_set) == ("close_date" in fields)
            assert bool("stage" in e.changes.model_fields_set and e.changes.stage) == bool(fields.get("stage"))
