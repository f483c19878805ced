"""Alert feed cursors, filters and scopes (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_review.review.alerts import (
    AlertFilter,
    BadAlertCursor,
    decode_entry,
    feed_item,
    is_stream_id,
    later,
    parse_stream_id,
    scoped_teams,
    valid_alert,
)

pytestmark = pytest.mark.unit

ALERT = {"alert_id": "al-1", "kind": "late_stage_discount", "team": "East", "manager_id": "m-1",
         "occurred_at": "2026-11-20T09:30:00+00:00"}


def test_stream_ids_compare_numerically_not_as_text():
    assert parse_stream_id("1700000000000-12") == (1700000000000, 12)
    assert parse_stream_id("0") == (0, 0)
    assert later("1700000000000-10", "1700000000000-9")
    assert later("1700000000001-0", "999999999999-5")
    assert not later("5-0", "5-0")
    assert is_stream_id("1-0") and not is_stream_id("al-1234") and not is_stream_id("")
    with pytest.raises(BadAlertCursor):
        parse_stream_id("not-a-cursor")


def test_filter_by_team_manager_kind_and_since():
    assert AlertFilter().matches(ALERT)
    assert AlertFilter(teams=frozenset({"East", "West"})).matches(ALERT)
    assert not AlertFilter(teams=frozenset({"West"})).matches(ALERT)
    assert AlertFilter(manager="m-1").matches(ALERT) and not AlertFilter(manager="m-2").matches(ALERT)
    assert not AlertFilter(kind="discount_info").matches(ALERT)
    at = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone.utc)
    assert AlertFilter(since=at).matches(ALERT)
    assert not AlertFilter(since=at + dt.timedelta(seconds=1)).matches(ALERT)
    # A naive since is UTC.
    assert AlertFilter(since=dt.datetime(2026, 11, 20, 9, 0)).matches(ALERT)
    assert not AlertFilter(since=at).matches({**ALERT, "occurred_at": "garbage"})


def test_scope_forces_the_callers_teams_and_refuses_others():
    east_west = frozenset({"East", "West"})
    assert scoped_teams(None, None) is None
    assert scoped_teams("North", None) == frozenset({"North"})
    assert scoped_teams(None, east_west) == east_west
    assert scoped_teams("East", east_west) == frozenset({"East"})
    with pytest.raises(PermissionError, match="North"):
        scoped_teams("North", east_west)


def test_feed_items_and_entries():
    assert feed_item(ALERT, "5-0", None) == {**ALERT, "cursor": "5-0", "ack": None}
    assert decode_entry({b"alert": b'{"alert_id": "x"}'}) == {"alert_id": "x"}
    assert decode_entry({b"alert": b"[1]"}) is None and decode_entry({b"other": b"1"}) is None
    assert valid_alert(ALERT) is None
    assert valid_alert([1]) == "not a JSON object" and valid_alert({"kind": "x"}) == "no alert_id"
