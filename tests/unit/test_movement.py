"""Pipeline movement: the card fields, the three alert rules and the quarter's flow (pure)."""

import datetime as dt

import pytest

from services.domain import movement as mv
from services.domain.lists import list_item, place
from services.domain.state import fold
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap, StageMapError
from tests.helpers import event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
UTC = dt.UTC


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def created(deal_id="api:m1", when="2026-10-01", **changes):
    fields = {"name": "Acme", "stage": "Prospecting", "amount": 100_000, "close_date": "2026-12-15", **changes}
    return event(deal_id=deal_id, type="deal.created", at=at(when), **fields)


# -- card fields ---------------------------------------------------------------------------


def test_push_count_counts_moves_to_a_later_quarter_only():
    state = fold(
        [
            created(),
            event(deal_id="api:m1", at=at("2026-10-05"), close_date="2026-12-20"),  # same quarter
            event(deal_id="api:m1", at=at("2026-10-10"), close_date="2027-01-15"),  # pushed
            event(deal_id="api:m1", at=at("2026-10-20"), close_date="2026-11-30"),  # pulled in
            event(deal_id="api:m1", at=at("2026-11-01"), close_date="2027-04-01"),
        ],  # pushed
        STAGES,
    )
    assert mv.push_count(state) == 2
    history = mv.close_date_history(state)
    assert [h["close_date"] for h in history] == ["2026-12-15", "2026-12-20", "2027-01-15", "2026-11-30", "2027-04-01"]
    assert [h["pushed"] for h in history] == [False, False, True, False, True]


def test_movement_follows_the_crm_order_not_the_arrival_order():
    events = [
        created(),
        event(deal_id="api:m1", at=at("2026-10-10"), close_date="2027-01-15"),
        event(deal_id="api:m1", at=at("2026-10-20"), close_date="2027-05-01"),
    ]
    late_first = fold([events[0], events[2], events[1]], STAGES)
    assert mv.push_count(late_first) == 2  # in arrival order it would look like one push and a pull-in
    assert late_first.movement == fold(events, STAGES).movement


def test_stage_entered_at_ignores_a_restated_stage_and_restarts_on_a_move():
    state = fold(
        [
            created(),
            event(deal_id="api:m1", at=at("2026-10-08"), stage="Prospecting", amount=120_000),
            event(deal_id="api:m1", type="deal.stage_changed", at=at("2026-10-12"), stage="Qualification"),
        ],
        STAGES,
    )
    assert mv.stage_entered_at(state) == at("2026-10-12")
    again = fold([created(), event(deal_id="api:m1", at=at("2026-10-08"), stage="prospecting")], STAGES)
    assert mv.stage_entered_at(again) == at("2026-10-01")
    assert mv.last_change_at(again) == at("2026-10-08")


def test_days_in_stage_is_computed_when_read():
    card = place(fold([created()], STAGES), STAGES).card
    assert "days_in_stage" not in card
    assert mv.with_days_in_stage(card, at("2026-10-11", 8))["days_in_stage"] == 9
    assert mv.with_days_in_stage(card, at("2026-10-11", 10))["days_in_stage"] == 10
    assert mv.days_in_stage(None, at("2026-10-11")) is None
    assert mv.days_in_stage(at("2026-10-12"), at("2026-10-11")) == 0  # a clock behind the CRM: never negative


def test_the_card_carries_movement_and_the_list_item_leaves_the_history_out():
    card = place(
        fold([created(), event(deal_id="api:m1", at=at("2026-10-10"), close_date="2027-01-15")], STAGES), STAGES
    ).card
    assert card["push_count"] == 1
    assert card["stage_entered_at"] == at("2026-10-01").isoformat()
    assert card["last_change_at"] == at("2026-10-10").isoformat()
    assert card["stall_days"] == 14
    assert card["stalled_since"] == at("2026-10-15").isoformat()
    assert len(card["close_date_history"]) == 2
    item = list_item(card, "leader")
    assert item["push_count"] == 1 and "close_date_history" not in item


# -- close_date_pushed -----------------------------------------------------------------------


def pushed(events, horizon=1):
    state = fold(events, STAGES)
    return mv.close_date_pushed_alert(events[-1], state, STAGES, horizon)


def test_a_close_date_leaving_the_horizon_for_a_later_quarter_alerts():
    move = event(deal_id="api:m1", at=at("2026-11-02"), close_date="2027-02-10", event_id="push-1")
    alert = pushed([created(), move])
    assert alert["kind"] == "close_date_pushed"
    assert (alert["from_close_date"], alert["to_close_date"], alert["push_count"]) == ("2026-12-15", "2027-02-10", 1)
    assert alert["amount"] == 100_000 and alert["severity"] == "high"
    assert alert["alert_id"] == pushed([created(), move])["alert_id"]  # deterministic
    assert alert["occurred_at"] == at("2026-11-02").isoformat()


@pytest.mark.parametrize(
    "change, why",
    [
        ({"close_date": "2026-12-30"}, "same quarter"),
        ({"amount": 5}, "no close-date change"),
    ],
)
def test_no_push_alert_without_a_move_to_a_later_quarter(change, why):
    assert pushed([created(), event(deal_id="api:m1", at=at("2026-11-02"), **change)]) is None, why


def test_no_push_alert_when_the_old_date_was_outside_the_horizon():
    # On 2026-11-02 the horizon is 2026Q4: a move from 2027Q1 to 2027Q2 is not the manager's forecast slipping.
    events = [created(close_date="2027-02-01"), event(deal_id="api:m1", at=at("2026-11-02"), close_date="2027-05-01")]
    assert pushed(events) is None
    assert pushed(events, horizon=2)["from_close_date"] == "2027-02-01"


def test_no_push_alert_on_a_closed_deal():
    events = [
        created(),
        event(deal_id="api:m1", type="deal.closed_lost", at=at("2026-11-01")),
        event(deal_id="api:m1", at=at("2026-11-02"), close_date="2027-02-10"),
    ]
    assert pushed(events) is None


def test_a_push_that_arrives_late_compares_with_the_date_before_it_in_crm_order():
    first = event(deal_id="api:m1", at=at("2026-10-10"), close_date="2027-01-20")
    later = event(deal_id="api:m1", at=at("2026-10-20"), close_date="2027-03-01")
    state = fold([created(), later, first], STAGES)  # "first" arrives last
    alert = mv.close_date_pushed_alert(first, state, STAGES)
    assert (alert["from_close_date"], alert["to_close_date"]) == ("2026-12-15", "2027-01-20")
    assert mv.close_date_pushed_alert(later, state, STAGES) is None  # 2027Q1 -> 2027Q1: not a push


# -- qualification_gap -----------------------------------------------------------------------


def test_entering_late_with_the_economic_buyer_or_champion_unknown_alerts():
    enter = event(
        deal_id="api:m1",
        type="deal.stage_changed",
        at=at("2026-11-02"),
        stage="Proposal/Price Quote",
        qualification={"champion": "known"},
    )
    state = fold([created(), enter], STAGES)
    alert = mv.qualification_gap_alert(enter, state, STAGES)
    assert alert["kind"] == "qualification_gap" and alert["missing"] == ["economic_buyer"]
    assert alert["stage"] == "Proposal/Price Quote" and alert["phase"] == "late"


def test_no_gap_alert_when_qualified_or_moving_within_late():
    qualified = {"economic_buyer": "known", "champion": "known"}
    enter = event(deal_id="api:m1", at=at("2026-11-02"), stage="Proposal/Price Quote", qualification=qualified)
    assert mv.qualification_gap_alert(enter, fold([created(), enter], STAGES), STAGES) is None
    within = event(deal_id="api:m1", at=at("2026-11-05"), stage="Negotiation/Review")
    unqualified = event(deal_id="api:m1", at=at("2026-11-02"), stage="Proposal/Price Quote")
    state = fold([created(), unqualified, within], STAGES)
    assert mv.qualification_gap_alert(within, state, STAGES) is None
    assert mv.qualification_gap_alert(unqualified, state, STAGES)["missing"] == ["economic_buyer", "champion"]


def test_a_late_arriving_old_stage_move_enters_nothing():
    late_now = event(deal_id="api:m1", at=at("2026-11-05"), stage="Negotiation/Review")
    old_mid = event(deal_id="api:m1", at=at("2026-10-20"), stage="Value Proposition")
    state = fold([created(), late_now, old_mid], STAGES)
    assert mv.qualification_gap_alert(old_mid, state, STAGES) is None
    assert mv.qualification_gap_alert(late_now, state, STAGES) is not None


# -- stalled ---------------------------------------------------------------------------------


def test_an_early_deal_past_its_stages_stall_days_is_stalled_once_per_stall():
    state = fold([created(potential_value=400_000)], STAGES)  # Prospecting: 14 days
    assert mv.stalled_alert(state, STAGES, at("2026-10-14")) is None
    alert = mv.stalled_alert(state, STAGES, at("2026-10-20"))
    assert alert["kind"] == "stalled"
    assert (alert["days_in_stage"], alert["stall_days"], alert["potential_value"]) == (19, 14, 400_000)
    assert alert["occurred_at"] == at("2026-10-15").isoformat()  # when it became stalled, the same on every worker
    assert mv.stall_due(state, STAGES) == at("2026-10-15").timestamp()
    mv.mark_stall_alerted(state)
    assert mv.stalled_alert(state, STAGES, at("2026-10-25")) is None
    assert mv.stall_due(state, STAGES) is None
    # An update that does not move the stage keeps it the same stall...
    from services.domain.state import apply_event

    state = apply_event(state, event(deal_id="api:m1", at=at("2026-10-26"), amount=90_000), STAGES).state
    assert mv.stalled_alert(state, STAGES, at("2026-10-27")) is None
    # ...a move starts a new one, with its own alert id.
    state = apply_event(state, event(deal_id="api:m1", at=at("2026-10-27"), stage="Qualification"), STAGES).state
    assert mv.stalled_alert(state, STAGES, at("2026-11-10")) is None  # 21 days from Oct 27
    second = mv.stalled_alert(state, STAGES, at("2026-11-20"))
    assert second is not None and second["alert_id"] != alert["alert_id"]


def test_a_stall_looked_up_once_gives_the_same_alert_and_card():
    """The fold asks stall_of once and hands it to stalled_alert and place: the same answers as asking them."""
    early = fold([created(potential_value=400_000)], STAGES)
    late = fold([created(stage="Negotiation/Review")], STAGES)
    now = at("2026-10-20")
    for state in (early, late):
        stall = mv.stall_of(state, STAGES)
        assert mv.stalled_alert(state, STAGES, now, stall) == mv.stalled_alert(state, STAGES, now)
        assert place(state, STAGES, now, stall) == place(state, STAGES, now)
    assert mv.stall_of(early, STAGES) is not None and mv.stall_of(late, STAGES) is None


def test_late_closed_and_unmapped_deals_never_stall():
    far = at("2027-06-01")
    assert mv.stalled_alert(fold([created(stage="Negotiation/Review")], STAGES), STAGES, far) is None
    assert (
        mv.stalled_alert(
            fold([created(), event(deal_id="api:m1", type="deal.closed_won", at=at("2026-10-02"))], STAGES), STAGES, far
        )
        is None
    )
    assert mv.stalled_alert(fold([created(stage="Some custom stage")], STAGES), STAGES, far) is None


def test_every_shipped_open_early_and_mid_stage_has_stall_days():
    for pipeline, stages in STAGES.pipelines.items():
        for stage, phase in stages.items():
            if phase.value in ("early", "mid"):
                assert STAGES.stall_days_for(stage, pipeline), (pipeline, stage)


@pytest.mark.parametrize("value", ["0", "-3", "'soon'", "true", "99999"])
def test_a_bad_stall_days_value_is_refused(tmp_path, value):
    path = tmp_path / "map.toml"
    path.write_text(f'[pipelines.x]\nA = "early"\n[stall_days.x]\nA = {value}\n')
    with pytest.raises(StageMapError, match=r"stall_days.x"):
        StageMap.load(path)


# -- flow of the quarter ---------------------------------------------------------------------


def flows(events_by_deal, quarter="2026Q4", as_of=at("2026-12-01")):  # noqa: B008 - a datetime: immutable
    return {deal: mv.deal_flow(fold(events, STAGES), quarter, as_of) for deal, events in events_by_deal.items()}


def test_the_worked_example_of_the_docs_reconciles():
    """The example of docs/movement.md, deal by deal."""
    history = {
        "A": [
            created("A", "2026-09-01", amount=100_000, close_date="2026-11-15"),
            event(deal_id="A", at=at("2026-10-10"), amount=120_000),
        ],
        "B": [
            created("B", "2026-09-02", amount=80_000, close_date="2026-12-10"),
            event(deal_id="B", at=at("2026-11-03"), close_date="2027-02-01"),
        ],
        "C": [
            created("C", "2026-09-03", amount=50_000, close_date="2026-10-30"),
            event(deal_id="C", type="deal.closed_won", at=at("2026-10-28"), amount=45_000),
        ],
        "D": [created("D", "2026-10-05", amount=30_000, close_date="2026-12-20")],
        "E": [
            created("E", "2026-08-01", amount=60_000, close_date="2027-03-01"),
            event(deal_id="E", at=at("2026-11-10"), close_date="2026-12-15"),
        ],
        "F": [
            created("F", "2026-09-05", amount=40_000, close_date="2026-12-01"),
            event(deal_id="F", type="deal.closed_lost", at=at("2026-11-20")),
        ],
        "G": [
            created("G", "2026-10-02", amount=20_000, close_date="2026-11-01"),
            event(deal_id="G", type="deal.closed_won", at=at("2026-10-30")),
        ],
    }
    parts = flows(history)
    assert parts["A"] == {"start": 100_000, "increased": 20_000, "end": 120_000}
    assert parts["B"] == {"start": 80_000, "pushed_out": 80_000}
    assert parts["C"] == {"start": 50_000, "decreased": 5_000, "won": 45_000}
    assert parts["D"] == {"new": 30_000, "end": 30_000}
    assert parts["E"] == {"pulled_in": 60_000, "end": 60_000}
    assert parts["F"] == {"start": 40_000, "lost": 40_000}
    assert parts["G"] == {"new": 20_000, "won": 20_000}
    buckets = mv.flow_totals(parts.values())
    assert {name: b["amount"] for name, b in buckets.items()} == {
        "start": 270_000,
        "new": 50_000,
        "pulled_in": 60_000,
        "pushed_out": 80_000,
        "increased": 20_000,
        "decreased": 5_000,
        "won": 65_000,
        "lost": 40_000,
        "end": 210_000,
    }
    assert mv.reconciliation_gap(buckets) == 0
    assert buckets["start"]["count"] == 4 and buckets["end"]["count"] == 3


def test_a_past_quarter_ends_at_its_last_instant():
    history = {
        "A": [
            created("A", "2026-08-01", close_date="2026-09-20"),
            event(deal_id="A", at=at("2026-10-03"), close_date="2026-12-01"),
        ]
    }
    assert flows(history, "2026Q3")["A"] == {"new": 100_000, "end": 100_000}  # as it was on Sep 30
    assert flows(history, "2026Q4")["A"] == {"pulled_in": 100_000, "end": 100_000}
