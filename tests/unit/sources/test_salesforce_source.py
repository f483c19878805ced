"""Salesforce CDC adapter: envelope shapes, change types, ordering, gaps, quote discounts."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from services.ingest.sources.base import AuthError, PayloadError, RawRequest
from services.ingest.sources.salesforce import SalesforceCDCAdapter
from services.shared.events import EventType, decode_event, encode_event

RECEIVED_AT = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.unit


@pytest.fixture
def adapter(stage_map):
    return SalesforceCDCAdapter(stage_map=stage_map)


def test_create_in_cometd_envelope(adapter, fixture):
    result = adapter.map(fixture("salesforce", "opportunity_create"), RECEIVED_AT)
    assert result.dead_letters == []
    (event,) = result.events
    assert event.source == "salesforce"
    assert event.deal_id == "salesforce:006SM0000001Tb3YAE"
    assert event.event_id == "salesforce:0002343d-9d90-e395-ed20-cf416ba652ad:1:006SM0000001Tb3YAE"
    assert event.type is EventType.CREATED
    assert event.occurred_at == dt.datetime(2024, 11, 20, 8, 50, tzinfo=dt.UTC)
    assert event.sequence == 1
    assert event.changed_fields() == {
        "name": "Acme expansion",
        "account": "001SM0000002hQ4YAI",
        "owner_id": "005SM000000bK1cYAE",
        "stage": "Prospecting",
        "amount": 120000.0,
        "currency": "USD",
        "close_date": "2027-03-31",
        "probability": 10.0,
    }  # NextStep is null on CREATE: not known, so not sent


def test_update_emits_only_changed_fields_and_clears_absent_ones(adapter, fixture):
    (event,) = adapter.map(fixture("salesforce", "opportunity_update_stage"), RECEIVED_AT).events
    assert event.type is EventType.STAGE_CHANGED
    # NextStep is named in changedFields but absent from the payload: it was cleared.
    assert event.changed_fields() == {"stage": "Negotiation/Review", "probability": 90.0, "next_step": None}
    assert event.occurred_at == dt.datetime(2026, 12, 1, 14, 5, 10, tzinfo=dt.UTC)  # ISO commitTimestamp
    # null survives the wire: absent and cleared stay apart
    assert decode_event(encode_event(event)).changed_fields()["next_step"] is None


def test_bare_payload_closed_won_with_epoch_dates(adapter, fixture):
    (event,) = adapter.map(fixture("salesforce", "opportunity_closed_won"), RECEIVED_AT).events
    assert event.type is EventType.CLOSED_WON
    assert event.changed_fields()["close_date"] == "2024-12-31"  # epoch ms CloseDate
    assert event.sequence == 2


def test_closed_lost(adapter, fixture):
    payload = fixture("salesforce", "opportunity_closed_won")
    payload["StageName"] = "Closed Lost"
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.type is EventType.CLOSED_LOST


def test_delete_with_several_record_ids_in_data_wrapper(adapter, fixture):
    result = adapter.map(fixture("salesforce", "opportunity_multi_delete"), RECEIVED_AT)
    assert [e.deal_id for e in result.events] == ["salesforce:006SM0000001Tb3YAE", "salesforce:006SM0000001Tb4YAE"]
    assert {e.type for e in result.events} == {EventType.DELETED}
    assert len({e.event_id for e in result.events}) == 2
    assert all(e.changed_fields() == {} for e in result.events)


def test_list_with_undelete_gap_and_other_entity(adapter, fixture):
    result = adapter.map(fixture("salesforce", "batch_mixed"), RECEIVED_AT)
    (event,) = result.events
    assert event.type is EventType.CREATED  # UNDELETE -> created with what is known
    assert event.deal_id == "salesforce:006SM0000001Tb5YAE"
    assert event.changed_fields()["stage"] == "Value Proposition"
    assert event.changed_fields()["close_date"] == "2027-02-15"
    reasons = [d.reason for d in result.dead_letters]
    assert len(reasons) == 2
    assert "gap event GAP_UPDATE" in reasons[0] and "006SM0000001Tb6YAE" in reasons[0]
    assert "'Account' is not mapped" in reasons[1]
    assert result.dead_letters[0].payload["payload"]["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"


@pytest.mark.parametrize("change_type", ["GAP_CREATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"])
def test_every_gap_type_is_a_dead_letter(adapter, fixture, change_type):
    payload = fixture("salesforce", "opportunity_create")
    payload["payload"]["ChangeEventHeader"]["changeType"] = change_type
    result = adapter.map(payload, RECEIVED_AT)
    assert result.events == []
    assert change_type in result.dead_letters[0].reason


def test_unknown_change_type_is_a_dead_letter(adapter, fixture):
    payload = fixture("salesforce", "opportunity_create")
    payload["payload"]["ChangeEventHeader"]["changeType"] = "SNAPSHOT"
    result = adapter.map(payload, RECEIVED_AT)
    assert result.events == [] and "SNAPSHOT" in result.dead_letters[0].reason


def test_wildcard_record_id_is_a_dead_letter(adapter, fixture):
    payload = fixture("salesforce", "opportunity_multi_delete")
    payload["data"]["payload"]["ChangeEventHeader"]["recordIds"] = ["006*"]
    result = adapter.map(payload, RECEIVED_AT)
    assert result.events == [] and "wildcard" in result.dead_letters[0].reason


def test_event_id_is_deterministic_so_a_retry_is_a_duplicate(adapter, fixture):
    first = adapter.map(fixture("salesforce", "opportunity_update_stage"), RECEIVED_AT).events
    again = adapter.map(fixture("salesforce", "opportunity_update_stage"), RECEIVED_AT + dt.timedelta(hours=1)).events
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first == again


def test_ordering_follows_commit_timestamp_then_sequence(adapter, fixture):
    first = fixture("salesforce", "opportunity_update_stage")
    second = copy.deepcopy(first)
    second["payload"]["ChangeEventHeader"]["sequenceNumber"] = 2
    second["payload"]["StageName"] = "Closed Won"
    earlier = copy.deepcopy(first)
    earlier["payload"]["ChangeEventHeader"]["commitTimestamp"] = "2026-12-01T14:05:09.000Z"
    earlier["payload"]["ChangeEventHeader"]["sequenceNumber"] = 9
    events = adapter.map([second, first, earlier], RECEIVED_AT).events
    ordered = sorted(events, key=lambda e: e.ordering_key())
    assert [e.sequence for e in ordered] == [9, 1, 2]
    assert len({e.event_id for e in events}) == 3


def test_update_without_changed_fields_uses_present_fields(adapter, fixture):
    payload = fixture("salesforce", "opportunity_update_stage")
    del payload["payload"]["ChangeEventHeader"]["changedFields"]
    payload["payload"]["Amount"] = None
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.changed_fields() == {"stage": "Negotiation/Review", "probability": 90.0, "amount": None}


def test_nulled_fields_from_pubsub_clients_are_cleared(adapter, fixture):
    payload = fixture("salesforce", "opportunity_closed_won")
    payload["ChangeEventHeader"]["changedFields"] = ["NextStep", "LastModifiedDate"]
    payload["ChangeEventHeader"]["nulledFields"] = ["NextStep"]
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.changed_fields() == {"next_step": None}
    assert event.type is EventType.UPDATED


def test_avro_days_since_epoch_close_date(adapter, fixture):
    payload = fixture("salesforce", "opportunity_closed_won")
    payload["CloseDate"] = 20089  # Pub/Sub Avro "date": days since 1970-01-01
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.changed_fields()["close_date"] == "2025-01-01"


def test_opportunity_discount_field_and_extra_fields(stage_map, fixture):
    adapter = SalesforceCDCAdapter(
        stage_map=stage_map, opportunity_discount_field="Discount_Pct__c", extra_fields={"Team__c": "team"}
    )
    payload = fixture("salesforce", "opportunity_update_stage")
    header = payload["payload"]["ChangeEventHeader"]
    header["changedFields"] = ["Discount_Pct__c", "Team__c"]
    payload["payload"].update({"Discount_Pct__c": 18, "Team__c": "Central"})
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.type is EventType.DISCOUNT_REQUESTED
    assert event.changed_fields() == {
        "discount_pct": 18.0,
        "team": "Central",
        "requested_by": "005SM000000bK1cYAE",
    }


def test_extra_fields_must_name_canonical_fields(stage_map):
    with pytest.raises(ValueError, match="salesforce_team"):
        SalesforceCDCAdapter(stage_map=stage_map, extra_fields={"Team__c": "salesforce_team"})


def test_cpq_quote_discount_maps_to_its_opportunity(adapter, fixture):
    (event,) = adapter.map(fixture("salesforce", "quote_discount"), RECEIVED_AT).events
    assert event.type is EventType.DISCOUNT_REQUESTED
    assert event.deal_id == "salesforce:006SM0000001Tb3YAE"
    assert event.event_id == "salesforce:000af7b6-cc23-4ec3-afa6-da5b7c8d9eb5:3:a0tSM000000Qx1fYAC"
    assert event.changed_fields() == {"discount_pct": 15.0, "requested_by": "005SM000000bK2dYAE"}


def test_quote_line_item_discount_uses_opportunity_id(adapter, fixture):
    (event,) = adapter.map(fixture("salesforce", "quote_line_discount"), RECEIVED_AT).events
    assert event.type is EventType.DISCOUNT_REQUESTED
    assert event.deal_id == "salesforce:006SM0000001Tb3YAE"
    assert event.changed_fields()["discount_pct"] == 25.0


def test_quote_discount_withdrawn_is_an_update(adapter, fixture):
    payload = fixture("salesforce", "quote_discount")
    del payload["payload"]["SBQQ__CustomerDiscount__c"]  # named in changedFields, absent: cleared
    (event,) = adapter.map(payload, RECEIVED_AT).events
    assert event.type is EventType.UPDATED
    assert event.changed_fields() == {"discount_pct": None}


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda p: p["payload"].pop("SBQQ__Opportunity2__c"), "no opportunity id"),
        (lambda p: p["payload"]["ChangeEventHeader"].update(changedFields=["LastModifiedDate"]), "no discount"),
        (lambda p: p["payload"]["ChangeEventHeader"].update(changeType="DELETE"), "deleted"),
    ],
)
def test_unmappable_quote_events_are_dead_letters(adapter, fixture, edit, reason):
    payload = fixture("salesforce", "quote_discount")
    edit(payload)
    result = adapter.map(payload, RECEIVED_AT)
    assert result.events == []
    assert reason in result.dead_letters[0].reason
    assert result.dead_letters[0].payload is payload


@pytest.mark.parametrize(
    "edit, field",
    [
        (
            lambda p: p["payload"]["ChangeEventHeader"].pop("commitTimestamp"),
            "payload.ChangeEventHeader.commitTimestamp",
        ),
        (
            lambda p: p["payload"]["ChangeEventHeader"].update(commitTimestamp="yesterday"),
            "payload.ChangeEventHeader.commitTimestamp",
        ),
        (lambda p: p["payload"]["ChangeEventHeader"].update(recordIds=[]), "payload.ChangeEventHeader.recordIds"),
        (
            lambda p: p["payload"]["ChangeEventHeader"].update(recordIds=["006A", None]),
            "payload.ChangeEventHeader.recordIds[1]",
        ),
        (lambda p: p["payload"]["ChangeEventHeader"].pop("transactionKey"), "payload.ChangeEventHeader.transactionKey"),
        (
            lambda p: p["payload"]["ChangeEventHeader"].update(sequenceNumber="first"),
            "payload.ChangeEventHeader.sequenceNumber",
        ),
        (lambda p: p["payload"]["ChangeEventHeader"].pop("entityName"), "payload.ChangeEventHeader.entityName"),
        (
            lambda p: p["payload"]["ChangeEventHeader"].update(changedFields="StageName"),
            "payload.ChangeEventHeader.changedFields",
        ),
        (lambda p: p["payload"].pop("ChangeEventHeader"), "payload.ChangeEventHeader"),
        (lambda p: p.update(payload="nope"), "payload"),
        (lambda p: p["payload"].update(Amount="lots"), "payload.Amount"),
        (lambda p: p["payload"].update(Amount=-5), "payload.Amount"),
        (lambda p: p["payload"].update(Probability=140), "payload.Probability"),
        (lambda p: p["payload"].update(CloseDate="31/03/2027"), "payload.CloseDate"),
        (lambda p: p["payload"].update(CurrencyIsoCode="dollars"), "payload.CurrencyIsoCode"),
        (lambda p: p["payload"].update(Name={"first": "x"}), "payload.Name"),
    ],
)
def test_bad_input_names_the_field(adapter, fixture, edit, field):
    payload = fixture("salesforce", "opportunity_create")
    edit(payload)
    with pytest.raises(PayloadError) as info:
        adapter.map(payload, RECEIVED_AT)
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_bad_item_in_a_list_is_named_by_index(adapter, fixture):
    good = fixture("salesforce", "opportunity_create")
    bad = fixture("salesforce", "opportunity_create")
    del bad["payload"]["ChangeEventHeader"]["commitTimestamp"]
    with pytest.raises(PayloadError) as info:
        adapter.map([good, bad], RECEIVED_AT)
    assert info.value.field == "[1].payload.ChangeEventHeader.commitTimestamp"


@pytest.mark.parametrize("payload", [{"schema": "x"}, 42, ["not an event"]])
def test_not_an_event_at_all(adapter, payload):
    with pytest.raises(PayloadError):
        adapter.map(payload, RECEIVED_AT)


def test_empty_list_maps_to_nothing(adapter):
    result = adapter.map([], RECEIVED_AT)
    assert result.events == [] and result.dead_letters == []


def test_bearer_token_when_configured(stage_map):
    open_adapter = SalesforceCDCAdapter(stage_map=stage_map)
    open_adapter.authenticate(RawRequest("POST", "http://x/v1/sources/salesforce", {}, b"{}"))
    adapter = SalesforceCDCAdapter(stage_map=stage_map, token="s3cret")
    adapter.authenticate(RawRequest("POST", "http://x", {"authorization": "Bearer s3cret"}, b""))
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic s3cret"}):
        with pytest.raises(AuthError):
            adapter.authenticate(RawRequest("POST", "http://x", headers, b""))
