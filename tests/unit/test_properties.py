"""Any permutation and duplication of a deal's events gives the ordered stream's state."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.lists import place
from services.domain.state import fold
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)

stage = st.sampled_from(
    ["Prospecting", "Qualification", "Value Proposition", "Negotiation/Review", "Closed Won", "Closed Lost"]
)
change = st.fixed_dictionaries(
    {},
    optional={
        "stage": stage,
        "amount": st.integers(0, 10**6),
        "close_date": st.dates().map(str),
        "qualification": st.fixed_dictionaries({}, optional={"champion": st.sampled_from(["known", "unknown"])}),
        "discount_pct": st.integers(0, 50),
        "next_step": st.none() | st.text(max_size=5),
    },
)
kind = st.sampled_from(
    [
        "deal.created",
        "deal.updated",
        "deal.stage_changed",
        "deal.discount_requested",
        "deal.closed_won",
        "deal.closed_lost",
        "deal.deleted",
    ]
)


@st.composite
def streams(draw):
    n = draw(st.integers(1, 12))
    events = [
        event(
            deal_id="api:p",
            type=draw(kind),
            at=draw(st.integers(0, 20)),
            sequence=draw(st.none() | st.integers(0, 3)),
            event_id=f"e{i}",
            **draw(change),
        )
        for i in range(n)
    ]
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.sequence if e.sequence is not None else -1, e.event_id))
    shuffled = draw(st.permutations(events))
    duplicated = shuffled + draw(st.lists(st.sampled_from(events), max_size=6))
    mixed = draw(st.permutations(duplicated))
    return ordered, mixed


def comparable(state):
    raw = state.to_dict()
    raw["seen"] = sorted(raw["seen"])
    return raw


@settings(max_examples=300, deadline=None)
@given(streams())
def test_any_permutation_and_duplication_gives_the_ordered_state(pair):
    ordered, mixed = pair
    expected = fold(ordered, STAGES)
    actual = fold(mixed, STAGES)
    assert comparable(actual) == comparable(expected)
    assert place(actual, STAGES) == place(expected, STAGES)
