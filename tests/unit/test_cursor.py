import pytest

from services.review.lists import BadCursor, Cursor

pytestmark = pytest.mark.unit


def test_cursor_round_trips():
    cursor = Cursor(1234.5, "salesforce:006x")
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("garbage", ["", "abc", "!!!", "W10"])
def test_garbage_cursor_is_rejected(garbage):
    with pytest.raises(BadCursor):
        Cursor.decode(garbage)


@pytest.mark.parametrize("score", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_cursor_whose_score_is_not_finite_is_rejected_with_the_reason(score):
    import base64

    text = base64.urlsafe_b64encode(f'[{score},"api:x"]'.encode()).decode().rstrip("=")
    with pytest.raises(BadCursor, match="finite"):
        Cursor.decode(text)
