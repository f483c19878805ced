import json

import pytest

from services.ingest.app import BadRequest, parse_events
from services.shared.events import decode_event, encode_event

pytestmark = pytest.mark.unit
GOOD = {
    "event_id": "e1",
    "source": "api",
    "deal_id": "api:1",
    "occurred_at": "2026-11-20T09:00:00Z",
    "type": "deal.created",
    "changes": {"amount": 10, "next_step": None},
}


def test_one_event_or_a_batch():
    assert len(parse_events(GOOD, 10)) == 1
    assert len(parse_events([GOOD, GOOD | {"event_id": "e2"}], 10)) == 2


def test_an_invalid_item_rejects_the_batch_and_names_the_field():
    with pytest.raises(BadRequest) as raised:
        parse_events([GOOD, GOOD | {"changes": {"amount": -1}}], 10)
    assert raised.value.status == 422
    assert raised.value.message.startswith("events[1].changes.amount:")


@pytest.mark.parametrize(
    "bad, field",
    [
        (GOOD | {"occurred_at": "2026-11-20T09:00:00"}, "event.occurred_at"),
        (GOOD | {"type": "deal.exploded"}, "event.type"),
        (GOOD | {"schema_version": 2}, "event.schema_version"),
        (GOOD | {"changes": {"colour": "red"}}, "event.changes.colour"),
        ({k: v for k, v in GOOD.items() if k != "deal_id"}, "event.deal_id"),
    ],
)
def test_errors_name_the_field(bad, field):
    with pytest.raises(BadRequest) as raised:
        parse_events(bad, 10)
    assert raised.value.message.startswith(field + ":")


def test_batch_limits():
    with pytest.raises(BadRequest) as raised:
        parse_events([GOOD] * 11, 10)
    assert raised.value.status == 413
    with pytest.raises(BadRequest):
        parse_events([], 10)
    with pytest.raises(BadRequest):
        parse_events("text", 10)


def test_encoding_keeps_absent_and_null_apart():
    event = decode_event(encode_event(parse_events(GOOD, 1)[0]))
    assert event.changed_fields() == {"amount": 10, "next_step": None}


@pytest.mark.parametrize(
    "given",
    [
        GOOD,  # schema_version left out: the encoder adds it
        GOOD | {"schema_version": 1},  # everything given: pydantic writes the JSON directly
        {k: v for k, v in GOOD.items() if k != "changes"} | {"type": "deal.deleted"},  # no changes at all
    ],
)
def test_both_encoding_paths_write_the_same_contract(given):
    raw = json.loads(encode_event(parse_events(given, 1)[0]))
    assert raw["schema_version"] == 1
    assert raw["changes"] == given.get("changes", {})
    assert "sequence" not in raw  # unset top-level fields stay out, as before
    assert decode_event(json.dumps(raw)).model_dump() == parse_events(given, 1)[0].model_dump()


def test_control_characters_in_ids_are_rejected():
    with pytest.raises(BadRequest, match="control characters"):
        parse_events(GOOD | {"deal_id": "api:1\x07"}, 1)
