"""Alert feed cursors, filters and scopes (pure)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from services.review.alerts import (
    AlertFilter,
    BadAlert,
    BadAlertCursor,
    decode_entry,
    feed_item,
    id_after,
    id_before,
    is_stream_id,
    later,
    page_cursor,
    parse_alert,
    parse_stream_id,
    scoped_teams,
)

pytestmark = pytest.mark.unit

ALERT = {
    "alert_id": "al-1",
    "kind": "late_stage_discount",
    "team": "East",
    "manager_id": "m-1",
    "occurred_at": "2026-11-20T09:30:00+00:00",
}


def test_stream_ids_compare_numerically_not_as_text():
    assert parse_stream_id("1700000000000-12") == (1700000000000, 12)
    assert parse_stream_id("0") == (0, 0)
    assert later("1700000000000-10", "1700000000000-9")
    assert later("1700000000001-0", "999999999999-5")
    assert not later("5-0", "5-0")
    assert is_stream_id("1-0") and not is_stream_id("al-1234") and not is_stream_id("")
    with pytest.raises(BadAlertCursor):
        parse_stream_id("not-a-cursor")


MAX = 2**64 - 1


@pytest.mark.parametrize("text", [f"{MAX + 1}-0", f"0-{MAX + 1}", "99999999999999999999-1"])
def test_stream_ids_above_64_bits_are_refused_with_the_reason(text):
    with pytest.raises(BadAlertCursor, match="2\\^64-1"):
        parse_stream_id(text)
    assert not is_stream_id(text)


def test_neighbouring_ids_carry_over_and_stop_at_the_ends():
    assert id_after("5-3") == "5-4" and id_after(f"5-{MAX}") == "6-0" and id_after(f"{MAX}-{MAX}") is None
    assert id_before("5-3") == "5-2" and id_before("5-0") == f"4-{MAX}" and id_before("0-0") is None
    assert id_after("0") == "0-1"


def test_a_page_cursor_of_the_very_start_is_refused():
    assert page_cursor("17-2") == "17-2"
    for start in ("0", "0-0"):
        with pytest.raises(BadAlertCursor, match="0-0"):
            page_cursor(start)


def test_filter_by_team_manager_kind_and_since():
    assert AlertFilter().matches(ALERT)
    assert AlertFilter(teams=frozenset({"East", "West"})).matches(ALERT)
    assert not AlertFilter(teams=frozenset({"West"})).matches(ALERT)
    assert AlertFilter(manager="m-1").matches(ALERT) and not AlertFilter(manager="m-2").matches(ALERT)
    assert not AlertFilter(kinds=frozenset({"discount_info"})).matches(ALERT)
    at = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
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
    assert feed_item(ALERT, "5-0", None) == {**ALERT, "cursor": "5-0", "ack": None, "decision": None}
    decided = {"decision": "approved", "discount_pct": 10, "by": "ana", "at": "2026-11-26T12:00:00+00:00"}
    assert feed_item(ALERT, "5-0", None, decided)["decision"] == decided
    assert decode_entry({b"alert": b'{"alert_id": "x"}'}) == {"alert_id": "x"}
    assert decode_entry({b"alert": b"[1]"}) is None and decode_entry({b"other": b"1"}) is None
    full = {**ALERT, "deal_id": "d-1", "pushed_days": 3}  # a rule's own field travels too
    assert parse_alert(json.dumps(full)).model_dump(exclude_unset=True) == full
    for raw, why in (
        (b"[1]", "not a JSON object"),
        (b"{", "not JSON"),
        (b'{"kind": "x", "deal_id": "d"}', "alert_id"),
        (b'{"alert_id": "", "kind": "x", "deal_id": "d"}', "alert_id: empty"),
        (b'{"alert_id": "a", "kind": "x", "deal_id": "d", "amount": "lots"}', "amount"),
    ):
        with pytest.raises(BadAlert, match=why):
            parse_alert(raw)
