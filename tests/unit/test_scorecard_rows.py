"""The scorecard rows the worker sums: each deal adds the difference of its parts, and the sums
equal the parts of the deals' final states, in any arrival order (docs/scorecard.md)."""

import datetime as dt
import random

import pytest

from services.domain.scorecard import (
    BASELINE,
    add_counts,
    deal_parts,
    parse_row_id,
    part_changes,
    row_id,
    scorecards,
    scorecards_from_sums,
    state_facts,
    state_parts,
    sum_rows,
)
from services.domain.state import fold
from services.scoring.changelog import partition_for
from services.scoring.scorecard_rows import is_row_key, row_key, row_of, split_table
from services.shared.events import decode_event, encode_event
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import T0, action, event
from tests.unit.test_scorecard import DAY, three_deals

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


def fold_with_sums(stream):
    """Fold events one at a time as the worker does: each changed deal adds what its parts changed by."""
    states, rows = {}, {}
    for e in stream:
        state = fold([e], STAGES, states.get(e.deal_id))
        parts = state_parts(state, STAGES)
        for rid, delta in part_changes(state.scorecard, parts).items():
            add_counts(rows.setdefault(rid, {}), delta)
        state.scorecard = parts
        states[e.deal_id] = state
    return states, {rid: counts for rid, counts in rows.items() if counts}


@pytest.mark.parametrize("seed", range(10))
def test_the_sums_of_differences_equal_the_final_parts_in_any_order(seed):
    d1, d2, d3 = three_deals()
    extra = [
        event("api:d1", at=DAY // 2, qualification={"champion": "known"}),
        event("api:d3", at=DAY // 2, amount=70_000),
        # d2 moves to another team after its actions: its rows move with it.
        event("api:d2", at=6 * DAY, team="West"),
    ]
    events = d1 + d2 + d3 + extra
    random.Random(seed).shuffle(events)
    states, rows = fold_with_sums(events)
    fresh: dict = {}
    for state in states.values():
        for rid, counts in state_parts(state, STAGES).items():
            add_counts(fresh.setdefault(rid, {}), counts)
    assert rows == fresh
    # d2 moved to West: bob's won deal counts there, and nothing of d2 is left under East.
    bob_won = {parse_row_id(r)[1] for r, c in rows.items() if parse_row_id(r)[2] == "bob" and "won.count" in c}
    assert bob_won == {"West"}
    # And the scorecards read from the sums are those computed from the facts.
    facts = [f["2026Q4"] for f in (state_facts(s, STAGES) for s in states.values()) if "2026Q4" in f]
    sums = sum_rows((parse_row_id(rid)[2], counts) for rid, counts in rows.items() if rid.startswith('["2026Q4"'))
    as_of = T0 + dt.timedelta(days=40)
    assert scorecards_from_sums(sums, "2026Q4", as_of) == scorecards(facts, "2026Q4", as_of)


def test_a_deal_without_actions_adds_nothing_and_a_later_close_corrects_the_sums():
    d1, d2, _ = three_deals()
    assert state_parts(fold(d1[:1], STAGES), STAGES) == {}
    _states, before = fold_with_sums(d2[:-1])  # bob's review and approval, not yet won
    bob = row_id(("2026Q4", "East", "bob"))
    assert "won.count" not in before[bob]
    _, after = fold_with_sums(d2)
    # Closing won adds the close to bob's row (he touched it), nothing else of his changes.
    assert after[bob]["won.count"] == 1 and after[bob]["won.cents"] == 20_000_000
    assert {k: v for k, v in after[bob].items() if not k.startswith(("won.", "early_touch."))} == before[bob]


def test_values_are_whole_cents_so_differences_are_exact():
    facts = {
        "2026Q4": {
            "deal_id": "d",
            "team": "",
            "actions": [
                {
                    "type": "deal.reviewed",
                    "by": "ana",
                    "phase": "early",
                    "value": 0.1,
                    "at": T0.isoformat(),
                    "key": [0, 0, "e"],
                    "helped": True,
                    "unknown": {},
                },
                {
                    "type": "deal.reviewed",
                    "by": "ana",
                    "phase": "late",
                    "value": 0.2,
                    "at": T0.isoformat(),
                    "key": [1, 0, "f"],
                    "helped": True,
                    "unknown": {},
                },
            ],
        }
    }
    parts = deal_parts(facts)[("2026Q4", "", "ana")]
    assert parts["touched.cents"] == 30 and parts["early.cents"] == 10
    total: dict = {}
    for _ in range(1000):
        add_counts(total, parts)
    for _ in range(1000):
        add_counts(total, parts, -1)
    assert total == {}


def test_a_help_window_is_pending_until_the_whole_hour_after_its_21_days():
    help_at = T0 + dt.timedelta(minutes=30)
    events = [
        event("api:h", "deal.created", at=0, stage="Prospecting", amount=1_000, team="East"),
        action("api:h", "deal.help_offered", at=30, by="ana", kind="executive_sponsor"),
    ]
    _states, rows = fold_with_sums(events)
    sums = sum_rows((parse_row_id(rid)[2], counts) for rid, counts in rows.items())
    end = help_at + dt.timedelta(days=21)

    def items(as_of):
        return scorecards_from_sums(sums, "2026Q4", as_of)[0]["help"]["executive_sponsor"]["items"]

    assert items(end - dt.timedelta(minutes=1)) == {"known": 0, "not_known": 0, "pending": 1}
    assert items(end + dt.timedelta(minutes=29)) == {"known": 0, "not_known": 0, "pending": 1}
    assert items(end + dt.timedelta(minutes=30)) == {"known": 0, "not_known": 1, "pending": 0}


def test_reviews_without_help_feed_the_baseline_row_not_an_actor():
    _, rows = fold_with_sums(three_deals()[2])  # d3: ana and bob review, nobody helps
    baseline = rows[row_id(("2026Q4", "West", BASELINE))]
    assert baseline and all(name.startswith("base.") for name in baseline)
    assert BASELINE not in {
        c["actor"]
        for c in scorecards_from_sums(
            sum_rows((parse_row_id(rid)[2], counts) for rid, counts in rows.items()), "2026Q4", T0
        )
    }


@pytest.mark.parametrize("partitions", [1, 6, 12])
def test_a_row_key_lands_in_its_partition_and_never_looks_like_a_deal(partitions):
    rid = row_id(("2026Q4", "East\x1fodd", 'an "actor"'))
    for partition in range(partitions):
        key = row_key(partition, rid, partitions)
        assert partition_for(key, partitions) == partition
        assert is_row_key(key) and row_of(key, partitions) == (partition, rid)
    deal = b"api:deal-1"
    assert split_table([(deal, b"{}"), (key, b"{}")]) == ([(deal, b"{}")], [(key, b"{}")])
    # A deal id that starts like a row key is refused at the door.
    raw = encode_event(event("api:x", "deal.created", at=0, stage="Prospecting"))
    with pytest.raises(ValueError, match="deal_id"):
        decode_event(raw.replace(b'"api:x"', b'"\\u0000scorecard\\u0000x"'))
