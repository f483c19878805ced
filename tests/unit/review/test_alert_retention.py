"""The alert feed's retention rules (pure)."""

import pytest

from services.review.alert_feed import DAY_MS, retention_cutoff_ms
from services.review.alerts import id_after
from services.review.settings import ReviewSettings

pytestmark = pytest.mark.unit


def test_cutoff_is_now_minus_the_retention_and_zero_days_keeps_everything():
    now = 1_780_000_000_000
    assert retention_cutoff_ms(now, 90) == now - 90 * DAY_MS
    assert retention_cutoff_ms(now, 0.5) == now - DAY_MS // 2
    assert retention_cutoff_ms(now, 0) is None


def test_id_after_is_the_smallest_larger_id():
    assert id_after("1780000000000-0") == "1780000000000-1"
    assert id_after("5-41") == "5-42"


def test_retention_defaults_to_90_days_trimmed_hourly_and_refuses_negative_days(monkeypatch):
    settings = ReviewSettings()
    assert (settings.alert_retention_days, settings.alert_trim_interval) == (90, 3600.0)
    monkeypatch.setenv("PR_REVIEW_ALERT_RETENTION_DAYS", "-3")
    with pytest.raises(ValueError, match="alert_retention_days"):
        ReviewSettings()
