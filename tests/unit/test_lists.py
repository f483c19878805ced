import datetime as dt

import pytest

from services.domain.lists import list_item, manager_horizon, place, quarter_bounds, quarter_of
from services.domain.state import fold
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


def deal(deal_id, **changes):
    return fold([event(deal_id=deal_id, type="deal.created", at=0, **changes)], STAGES)


def test_quarters():
    assert quarter_of(dt.date(2026, 11, 26)) == "2026Q4"
    assert quarter_of(dt.date(2027, 1, 1)) == "2027Q1"
    assert quarter_bounds("2026Q4") == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert quarter_bounds("2027Q1") == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    assert manager_horizon(dt.date(2026, 12, 31)) == ["2026Q4"]
    assert manager_horizon(dt.date(2026, 12, 31), 3) == ["2026Q4", "2027Q1", "2027Q2"]


def test_only_open_early_deals_are_on_the_leader_list():
    assert place(deal("a", stage="Prospecting", amount=10), STAGES).leader_score is not None
    assert place(deal("b", stage="Value Proposition", amount=10), STAGES).leader_score is None
    assert place(deal("c", stage="Negotiation/Review", amount=10), STAGES).leader_score is None
    assert place(deal("d", stage="Closed Won", amount=10), STAGES).leader_score is None


def test_leader_ranking_orders_by_potential_times_winnability():
    big_unqualified = place(deal("a", stage="Prospecting", amount=1_000_000), STAGES)
    small_qualified = place(
        deal(
            "b",
            stage="Prospecting",
            amount=250_000,
            qualification=dict.fromkeys(("economic_buyer", "champion", "pain"), "known"),
        ),
        STAGES,
    )
    potential = place(deal("c", stage="Prospecting", amount=10, potential_value=2_000_000), STAGES)
    ranked = sorted([big_unqualified, small_qualified, potential], key=lambda p: -p.leader_score)
    assert [p.card["deal_id"] for p in ranked] == ["c", "a", "b"]


def test_manager_list_membership_is_by_close_quarter_and_amount():
    placed = place(deal("a", stage="Negotiation/Review", amount=500, close_date="2026-12-01"), STAGES)
    assert placed.manager_quarter == "2026Q4"
    assert placed.amount == 500
    assert place(deal("b", stage="Negotiation/Review", amount=500), STAGES).manager_quarter is None


@pytest.mark.parametrize("closing", ["deal.closed_won", "deal.closed_lost", "deal.deleted"])
def test_won_lost_and_deleted_deals_leave_both_lists(closing):
    state = fold(
        [
            event(deal_id="x", type="deal.created", at=0, stage="Prospecting", amount=5, close_date="2026-12-01"),
            event(deal_id="x", type=closing, at=1),
        ],
        STAGES,
    )
    placed = place(state, STAGES)
    assert placed.leader_score is None and placed.manager_quarter is None


def test_list_item_has_the_design_fields():
    card = place(
        deal(
            "a",
            stage="Prospecting",
            amount=10,
            name="N",
            account="Acc",
            owner_id="o",
            team="t",
            close_date="2026-12-01",
        ),
        STAGES,
    ).card
    item = list_item(card, "leader")
    for name in (
        "deal_id",
        "name",
        "account",
        "owner_id",
        "team",
        "stage",
        "phase",
        "amount",
        "potential_value",
        "close_date",
        "score",
        "score_parts",
        "questions",
    ):
        assert name in item
    assert item["phase"] == "early"
    assert "timeline" not in item
    assert list_item(card, "manager")["score"] == 10


def test_filters_carry_team_owner_and_manager():
    placed = place(deal("a", stage="Prospecting", team="East", owner_id="u1", manager_id="m1"), STAGES)
    assert placed.filters == {"team": "East", "owner": "u1", "manager": "m1"}
