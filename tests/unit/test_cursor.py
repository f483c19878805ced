import pytest

from pipeline_review.review.lists import BadCursor, Cursor

pytestmark = pytest.mark.unit


def test_cursor_round_trips():
    cursor = Cursor(1234.5, "salesforce:006x")
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("garbage", ["", "abc", "!!!", "W10"])
def test_garbage_cursor_is_rejected(garbage):
    with pytest.raises(BadCursor):
        Cursor.decode(garbage)
