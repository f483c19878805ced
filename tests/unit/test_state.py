import pytest

from services.domain.state import apply_event, fold
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import Phase, StageMap
from tests.helpers import event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


def test_partial_updates_merge():
    state = fold(
        [
            event(type="deal.created", at=0, name="Acme", stage="Prospecting", amount=100),
            event(at=1, amount=250),
            event(at=2, qualification={"champion": "known"}),
            event(at=3, qualification={"pain": "known"}),
        ],
        STAGES,
    )
    assert state.fields["name"] == "Acme"
    assert state.fields["amount"] == 250
    assert state.qualification()["champion"] == "known"
    assert state.qualification()["pain"] == "known"
    assert state.qualification()["economic_buyer"] == "unknown"


def test_a_duplicate_event_changes_nothing():
    first = event(type="deal.created", at=0, amount=100, stage="Prospecting", event_id="same")
    state = apply_event(None, first, STAGES).state
    again = apply_event(state, first, STAGES)
    assert again.duplicate
    assert again.state.to_dict() == state.to_dict()


def test_an_older_event_arriving_late_never_rolls_back():
    newer = event(at=10, amount=500, stage="Negotiation/Review")
    older = event(at=5, amount=100, stage="Prospecting")
    state = fold([event(type="deal.created", at=0), newer, older], STAGES)
    assert state.fields["amount"] == 500
    assert state.phase(STAGES) is Phase.LATE


def test_source_sequence_breaks_ties_of_the_same_instant():
    a = event(at=5, sequence=2, amount=200)
    b = event(at=5, sequence=1, amount=100)
    assert fold([a, b], STAGES).fields["amount"] == 200
    assert fold([b, a], STAGES).fields["amount"] == 200


@pytest.mark.parametrize("closing, phase", [("deal.closed_won", Phase.WON), ("deal.closed_lost", Phase.LOST)])
def test_closing_events_close_the_deal(closing, phase):
    state = fold([event(type="deal.created", at=0, stage="Prospecting"), event(type=closing, at=1)], STAGES)
    assert state.phase(STAGES) is phase


def test_a_stage_named_closed_won_closes_and_a_regression_reopens():
    state = fold(
        [
            event(type="deal.created", at=0, stage="Negotiation/Review"),
            event(type="deal.stage_changed", at=1, stage="Closed Won"),
        ],
        STAGES,
    )
    assert state.phase(STAGES) is Phase.WON
    state = fold([event(type="deal.stage_changed", at=2, stage="Prospecting")], STAGES, state)
    assert state.status == "open"
    assert state.phase(STAGES) is Phase.EARLY


def test_deleted_deals_stay_deleted_against_older_events():
    state = fold(
        [
            event(type="deal.created", at=0),
            event(type="deal.deleted", at=5),
            event(type="deal.created", at=1, stage="Prospecting"),
        ],
        STAGES,
    )
    assert state.status == "deleted"


def test_a_cleared_field_is_none():
    state = fold([event(type="deal.created", at=0, next_step="call"), event(at=1, next_step=None)], STAGES)
    assert state.fields["next_step"] is None


def test_timeline_records_stage_amount_close_date_and_discounts_in_order():
    state = fold(
        [
            event(type="deal.discount_requested", at=3, discount_pct=10, requested_by="u1"),
            event(type="deal.created", at=0, stage="Prospecting", amount=10, name="x"),
            event(at=1, name="renamed"),
            event(type="deal.stage_changed", at=2, stage="Negotiation/Review"),
        ],
        STAGES,
    )
    assert [e["type"] for e in state.timeline] == ["deal.created", "deal.stage_changed", "deal.discount_requested"]
    assert state.timeline[-1]["changes"] == {"discount_pct": 10, "requested_by": "u1"}


def test_state_round_trips_through_a_dict():
    state = fold([event(type="deal.created", at=0, stage="Prospecting", amount=10, close_date="2027-01-01")], STAGES)
    from services.domain.state import DealState

    assert DealState.from_dict(state.to_dict()).to_dict() == state.to_dict()


def _states():
    from services.domain.state import DealState

    rich = fold(
        [
            event(deal_id="api:s1", type="deal.created", at=0, stage="Prospecting", amount=10, close_date="2027-01-01"),
            event(
                deal_id="api:s1", at=5, sequence=3, amount=20.5, competitors=["X", "Y"], qualification={"pain": "known"}
            ),
            event(deal_id="api:s1", type="deal.stage_changed", at=3, stage="Negotiation/Review"),
            event(deal_id="api:s1", type="deal.discount_requested", at=7, discount_pct=15, requested_by="u1"),
            event(deal_id="api:s1", type="deal.closed_lost", at=9),
        ],
        STAGES,
    )
    assert rich is not None
    from services.domain.scorecard import state_parts
    from tests.helpers import action

    acted = fold(
        [
            event(deal_id="api:s2", type="deal.created", at=0, stage="Prospecting", amount=10, team="East"),
            action("api:s2", at=3, by="ana"),
        ],
        STAGES,
    )
    acted.scorecard = state_parts(acted, STAGES)  # what the worker remembers it added to the rows
    assert acted.actions and acted.scorecard
    return [
        rich,
        acted,
        DealState(deal_id="api:empty"),
        DealState(deal_id="api:src", source="hubspot", last_key=None),
    ]


def test_encode_writes_the_json_of_to_dict():
    """encode hands orjson the tuples as they are: the bytes must be those of to_dict()."""
    import orjson

    for state in _states():
        assert state.encode() == orjson.dumps(state.to_dict())


def test_decoding_bytes_gives_what_from_dict_gives_and_owns_its_containers():
    import orjson

    from services.domain.state import DealState

    for state in _states():
        raw = state.encode()
        decoded = DealState.decode(raw)
        assert decoded == DealState.from_dict(orjson.loads(raw)) == state
        assert all(isinstance(key, tuple) for key in decoded.stamps.values())
        assert decoded.last_key is None or isinstance(decoded.last_key, tuple)
        again = DealState.decode(raw)  # two decodes of one value share nothing
        again.fields["amount"] = -1
        again.movement.setdefault("amount", []).append([[0, 0, "x"], 1])
        assert DealState.decode(raw) == decoded != again
    older = {"deal_id": "api:old", "fields": {"amount": 5}, "stamps": {"amount": [1, -1, "e"]}}  # an older value
    assert DealState.decode(orjson.dumps(older)) == DealState.from_dict(older)
