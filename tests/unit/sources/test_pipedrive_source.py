"""Pipedrive webhooks v2 adapter: create/change/delete, merges, stage ids, status, basic auth."""

from __future__ import annotations

import base64
import copy
import datetime as dt

import pytest

from services.ingest.sources.base import AuthError, PayloadError, RawRequest
from services.ingest.sources.pipedrive import PipedriveWebhookAdapter
from services.shared.events import EventType

pytestmark = pytest.mark.unit

RECEIVED_AT = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
DISCOUNT_KEY = "8f4b27fbd0b5e2d3e0b7f7e9c4e9a1d2c3b4a5f6"


@pytest.fixture
def adapter(stage_map):
    return PipedriveWebhookAdapter(stage_map=stage_map, discount_field=DISCOUNT_KEY)


def test_create(adapter, fixture):
    result = adapter.map(fixture("pipedrive", "deal_create"), RECEIVED_AT)
    assert result.dead_letters == []
    (event,) = result.events
    assert event.source == "pipedrive"
    assert event.deal_id == "pipedrive:42"
    assert event.type is EventType.CREATED
    assert event.event_id.startswith("pipedrive:42:create:")
    assert event.occurred_at == dt.datetime(2026, 11, 20, 9, 30, 0, 312000, tzinfo=dt.UTC)
    assert event.changed_fields() == {
        "name": "Umbrella Corp pilot",
        "owner_id": "18487521",
        "amount": 30000.0,
        "currency": "EUR",
        "close_date": "2027-02-28",
        "account": "2",
        "stage": "Qualified",  # stage id 1 named through the stage map
    }


def test_change_emits_only_the_fields_in_previous(adapter, fixture):
    (event,) = adapter.map(fixture("pipedrive", "deal_change_stage"), RECEIVED_AT).events
    assert event.type is EventType.STAGE_CHANGED
    assert event.changed_fields() == {"stage": "Proposal Made"}
    assert event.occurred_at == dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)  # epoch seconds


def test_discount_custom_field_and_numeric_ids(adapter, fixture):
    (event,) = adapter.map(fixture("pipedrive", "deal_change_discount"), RECEIVED_AT).events
    assert event.deal_id == "pipedrive:42"  # entity_id given as a number
    assert event.type is EventType.DISCOUNT_REQUESTED
    assert event.changed_fields() == {"amount": 32000.0, "discount_pct": 20.0, "requested_by": "18487599"}
    assert event.occurred_at == dt.datetime(2026, 12, 3, 11, 0, tzinfo=dt.UTC)  # epoch milliseconds


def test_no_discount_field_configured_means_no_discount(stage_map, fixture):
    plain = PipedriveWebhookAdapter(stage_map=stage_map)
    (event,) = plain.map(fixture("pipedrive", "deal_change_discount"), RECEIVED_AT).events
    assert event.changed_fields() == {"amount": 32000.0}
    assert event.type is EventType.UPDATED


def test_status_won_closes_the_deal(adapter, fixture):
    (event,) = adapter.map(fixture("pipedrive", "deal_change_won"), RECEIVED_AT).events
    assert event.type is EventType.CLOSED_WON
    assert event.changed_fields() == {"stage": "won"}


def test_status_lost_closes_the_deal(adapter, fixture):
    (event,) = adapter.map(fixture("pipedrive", "deal_change_lost"), RECEIVED_AT).events
    assert event.deal_id == "pipedrive:43"
    assert event.type is EventType.CLOSED_LOST
    assert event.changed_fields() == {"stage": "lost"}


def test_reopened_deal_restates_its_stage(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_won")
    payload["data"]["status"] = "open"
    payload["previous"] = {"status": "won"}
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.type is EventType.STAGE_CHANGED
    assert event.changed_fields() == {"stage": "Negotiations Started"}


def test_status_deleted_deletes(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_won")
    payload["data"]["status"] = "deleted"
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.type is EventType.DELETED and event.changed_fields() == {}


def test_delete(adapter, fixture):
    (event,) = adapter.map(fixture("pipedrive", "deal_delete"), RECEIVED_AT).events
    assert (event.deal_id, event.type, event.changed_fields()) == ("pipedrive:44", EventType.DELETED, {})


def test_merge_deletes_the_merged_away_deal(adapter, fixture):
    deleted, changed = adapter.map(fixture("pipedrive", "deal_merge"), RECEIVED_AT).events
    assert (deleted.deal_id, deleted.type) == ("pipedrive:45", EventType.DELETED)
    assert (changed.deal_id, changed.type) == ("pipedrive:42", EventType.UPDATED)
    assert changed.changed_fields() == {"amount": 41000.0}


def test_unmapped_stage_id_passes_through(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_stage")
    payload["data"]["stage_id"] = 17
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.changed_fields() == {"stage": "17"}


def test_cleared_field_is_null(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_stage")
    payload["data"]["expected_close_date"] = None
    payload["previous"] = {"expected_close_date": "2027-02-28"}
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.changed_fields() == {"close_date": None}


def test_change_without_previous_sends_what_is_known(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_stage")
    payload["previous"] = None
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.changed_fields()["stage"] == "Proposal Made"
    assert event.changed_fields()["amount"] == 30000.0


def test_event_id_is_deterministic_and_ignores_delivery_fields(adapter, fixture):
    first = fixture("pipedrive", "deal_change_stage")
    retry = copy.deepcopy(first)
    retry["meta"]["attempt"] = 2
    other = copy.deepcopy(first)
    other["meta"]["timestamp"] = 1796205601
    ids = [adapter.map(p, RECEIVED_AT).events[0].event_id for p in (first, retry, other)]
    assert ids[0] == ids[1] != ids[2]


def test_timestamp_falls_back_to_update_time_then_received_at(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_stage")
    del payload["meta"]["timestamp"]
    assert adapter.map(payload, RECEIVED_AT).events[0].occurred_at == dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)
    del payload["data"]["update_time"]
    assert adapter.map(payload, RECEIVED_AT).events[0].occurred_at == RECEIVED_AT


def test_other_entities_actions_and_v1_are_dead_letters(adapter, fixture):
    person = fixture("pipedrive", "person_change")
    odd = fixture("pipedrive", "deal_change_stage")
    odd["meta"]["action"] = "archive"
    v1 = {"v": 1, "meta": {"v": 1, "action": "updated", "object": "deal", "id": 42}, "current": {"id": 42}}
    result = adapter.map([person, odd, v1], RECEIVED_AT)
    assert result.events == []
    reasons = [d.reason for d in result.dead_letters]
    assert "'person' is not mapped" in reasons[0]
    assert "'archive' is not mapped" in reasons[1]
    assert "only webhooks v2" in reasons[2]


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda p: p.pop("meta"), "meta"),
        (lambda p: p["meta"].pop("entity"), "meta.entity"),
        (lambda p: p["meta"].pop("action"), "meta.action"),
        (lambda p: p["meta"].update(timestamp="later"), "meta.timestamp"),
        (lambda p: (p["meta"].pop("entity_id"), p["data"].pop("id"), p["meta"].pop("id")), "meta.entity_id"),
        (lambda p: p["meta"].update(entity_id=4.5), "meta.entity_id"),
        (lambda p: p.update(data=None), "data"),
        (lambda p: p.update(data=[1]), "data"),
        (lambda p: p.update(previous="x"), "previous"),
        (lambda p: (p["data"].update(value="lots"), p["previous"].update(value=1)), "data.value"),
        (lambda p: (p["data"].update(probability=101), p["previous"].update(probability=50)), "data.probability"),
        (lambda p: p["data"].update(stage_id=None, status="open", custom_fields=7), "data.custom_fields"),
    ],
)
def test_bad_input_names_the_field(adapter, fixture, edit, field):
    payload = fixture("pipedrive", "deal_change_stage")
    edit(payload)
    with pytest.raises(PayloadError) as info:
        adapter.map(payload, RECEIVED_AT)
    assert info.value.field == field


def test_bad_discount_value_names_the_custom_field(adapter, fixture):
    payload = fixture("pipedrive", "deal_change_discount")
    payload["data"]["custom_fields"][DISCOUNT_KEY]["value"] = "a lot"
    with pytest.raises(PayloadError) as info:
        adapter.map([payload], RECEIVED_AT)
    assert info.value.field == f"[0].data.custom_fields.{DISCOUNT_KEY}.value"


# ------------------------------------------------------------------ basic auth


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_when_configured(stage_map):
    adapter = PipedriveWebhookAdapter(stage_map=stage_map, user="hook", password="p@ss:word")
    adapter.authenticate(RawRequest("POST", "https://h/v1/sources/pipedrive", _basic("hook", "p@ss:word"), b"{}"))
    for headers in ({}, _basic("hook", "wrong"), {"authorization": "Basic !!!"}, {"authorization": "Bearer x"}):
        with pytest.raises(AuthError):
            adapter.authenticate(RawRequest("POST", "https://h", headers, b"{}"))


def test_no_credentials_means_no_check(adapter):
    adapter.authenticate(RawRequest("POST", "https://h", {}, b"{}"))


def test_user_without_password_is_a_config_error(stage_map):
    with pytest.raises(ValueError):
        PipedriveWebhookAdapter(stage_map=stage_map, user="hook")
