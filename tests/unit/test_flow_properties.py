"""The quarter's flow reconciles for any event history, and rebuilds the deal as it was then."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain import movement as mv
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
