"""When a deleted deal's card leaves the read model (pure rules)."""

import datetime as dt

import pytest

from services.domain.lists import place
from services.domain.retention import deleted_at, due_for_removal, removal_cutoff
from services.domain.state import fold
from services.scoring.settings import ScoringSettings
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap
from tests.helpers import T0, event

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)


def deleted_deal(minutes_after_t0: int = 5):
    return fold(
        [
            event(type="deal.created", at=0, stage="Prospecting", amount=100),
            event(type="deal.deleted", at=minutes_after_t0),
        ],
        STAGES,
    )


def test_the_deletion_time_is_the_deletion_events_time_in_the_crm():
    assert deleted_at(deleted_deal(5)) == (T0 + dt.timedelta(minutes=5)).timestamp()


def test_a_late_older_event_does_not_move_the_deletion_time():
    state = fold(
        [
            event(type="deal.created", at=0, stage="Prospecting"),
            event(type="deal.deleted", at=5),
            event(at=3, amount=7),
        ],
        STAGES,
    )
    assert deleted_at(state) == (T0 + dt.timedelta(minutes=5)).timestamp()


def test_open_won_and_reopened_deals_have_no_deletion_time():
    assert deleted_at(fold([event(type="deal.created", at=0, stage="Prospecting")], STAGES)) is None
    assert deleted_at(fold([event(type="deal.closed_won", at=0)], STAGES)) is None
    reopened = fold(
        [event(type="deal.deleted", at=1), event(type="deal.stage_changed", at=2, stage="Prospecting")], STAGES
    )
    assert reopened.status == "open" and deleted_at(reopened) is None


def test_due_only_once_the_grace_period_has_passed():
    state = deleted_deal(0)
    assert not due_for_removal(state, T0 + dt.timedelta(days=30) - dt.timedelta(seconds=1), grace_days=30)
    assert due_for_removal(state, T0 + dt.timedelta(days=30), grace_days=30)
    assert due_for_removal(state, T0, grace_days=0)
    assert not due_for_removal(fold([event(type="deal.created", at=0)], STAGES), T0 + dt.timedelta(days=999), 30)


def test_cutoff_is_now_minus_the_grace_period_in_epoch_seconds():
    assert removal_cutoff(T0, 30) == T0.timestamp() - 30 * 86400
    assert removal_cutoff(T0, 0.5) == T0.timestamp() - 43200


def test_the_placement_carries_the_deletion_time_and_no_rankings():
    placement = place(deleted_deal(5), STAGES)
    assert placement.deleted_at == (T0 + dt.timedelta(minutes=5)).timestamp()
    assert (placement.leader_score, placement.manager_quarter) == (None, None)
    assert placement.card["phase"] == "deleted"
    assert place(fold([event(type="deal.created", at=0, stage="Prospecting")], STAGES), STAGES).deleted_at is None


def test_grace_defaults_to_30_days_swept_hourly_and_refuses_negative_days(monkeypatch):
    settings = ScoringSettings()
    assert (settings.deleted_grace_days, settings.deleted_sweep_interval) == (30, 3600.0)
    monkeypatch.setenv("PR_SCORING_DELETED_GRACE_DAYS", "-1")
    with pytest.raises(ValueError, match="deleted_grace_days"):
        ScoringSettings()
