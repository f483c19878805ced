import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.review.lists import CURSOR_PATTERN, BadCursor, Cursor

pytestmark = pytest.mark.unit


def test_cursor_round_trips():
    cursor = Cursor(1234.5, "salesforce:006x")
    assert Cursor.decode(cursor.encode()) == cursor


@given(score=st.floats(allow_nan=False, allow_infinity=False), member=st.text(min_size=1, max_size=200))
def test_every_position_round_trips_and_matches_the_documented_pattern(score, member):
    text = Cursor(score, member).encode()
    assert re.match(CURSOR_PATTERN, text)
    assert Cursor.decode(text) == Cursor(score, member)


@given(text=st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_string_the_document_allows_decodes_to_a_finite_position(text):
    # The OpenAPI document's pattern is the whole rule: a schema-valid cursor is never refused.
    cursor = Cursor.decode(text)
    assert math.isfinite(cursor.score) and cursor.member


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "!!!",
        "W10",
        "WzEsImFwaTp4Il0",
        "0x1.0p+0~",
        "0x1.0p+0~abc",
        "0x1.0p+1024~61",
        "inf~61",
        "nan~61",
        "0x1.0p+0~61\n",
    ],
)
def test_garbage_cursor_is_rejected(garbage):
    with pytest.raises(BadCursor):
        Cursor.decode(garbage)
