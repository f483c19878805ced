"""HubSpot webhook adapter: deal subscriptions, both type spellings, dead letters, v3 signature."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest

from services.ingest.sources.base import AuthError, PayloadError, RawRequest
from services.ingest.sources.hubspot import HubSpotWebhookAdapter
from services.shared.events import EventType

pytestmark = pytest.mark.unit

RECEIVED_AT = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


@pytest.fixture
def adapter(stage_map):
    return HubSpotWebhookAdapter(stage_map=stage_map)


def test_deal_batch_maps_each_event(adapter, fixture):
    result = adapter.map(fixture("hubspot", "batch_deals"), RECEIVED_AT)
    assert result.dead_letters == []
    events = result.events
    assert [e.event_id for e in events] == [f"hubspot:{n}" for n in range(1001, 1008)]
    assert {e.deal_id for e in events} == {"hubspot:1246965"}
    assert {e.source for e in events} == {"hubspot"}
    assert [e.type for e in events] == [
        EventType.CREATED,
        EventType.UPDATED,
        EventType.UPDATED,
        EventType.UPDATED,
        EventType.UPDATED,
        EventType.STAGE_CHANGED,  # read from eventType, the other spelling
        EventType.DISCOUNT_REQUESTED,
    ]
    # HubSpot sends no previous values: each event carries only what changed.
    assert [e.changed_fields() for e in events] == [
        {},
        {"name": "Initech platform"},
        {"amount": 85000.0},
        {"close_date": "2025-03-31"},
        {"owner_id": "71234567"},
        {"stage": "contractsent"},
        {"discount_pct": 12.5, "requested_by": "45678"},
    ]
    assert events[0].occurred_at == dt.datetime(2024, 11, 20, 8, 50, tzinfo=dt.UTC)
    assert all(e.sequence is None for e in events)


def test_lifecycle_delete_restore_merge_and_closing(adapter, fixture):
    result = adapter.map(fixture("hubspot", "batch_lifecycle"), RECEIVED_AT)
    assert result.dead_letters == []
    got = [(e.event_id, e.deal_id, e.type) for e in result.events]
    assert got == [
        ("hubspot:2001", "hubspot:1246970", EventType.DELETED),
        ("hubspot:2002", "hubspot:1246970", EventType.CREATED),  # restore -> created with what is known
        ("hubspot:2003:1246971", "hubspot:1246971", EventType.DELETED),  # merged-away deal
        ("hubspot:2004", "hubspot:1246965", EventType.CLOSED_WON),
        ("hubspot:2005", "hubspot:1246980", EventType.CLOSED_LOST),
    ]
    assert result.events[1].changed_fields() == {}


def test_merge_into_a_new_record_deletes_both_and_creates_the_new_one(adapter):
    item = {
        "eventId": 9,
        "occurredAt": 1732265200000,
        "subscriptionType": "deal.merge",
        "objectId": 10,
        "primaryObjectId": 10,
        "mergedObjectIds": [11, "12"],
        "newObjectId": 13,
    }
    events = adapter.map([item], RECEIVED_AT).events
    assert [(e.event_id, e.deal_id, e.type) for e in events] == [
        ("hubspot:9:11", "hubspot:11", EventType.DELETED),
        ("hubspot:9:12", "hubspot:12", EventType.DELETED),
        ("hubspot:9:10", "hubspot:10", EventType.DELETED),
        ("hubspot:9:13", "hubspot:13", EventType.CREATED),
    ]


def test_unmapped_objects_properties_and_types_are_dead_letters(adapter, fixture):
    batch = fixture("hubspot", "batch_unmapped")
    result = adapter.map(batch, RECEIVED_AT)
    reasons = [d.reason for d in result.dead_letters]
    assert len(reasons) == 3
    assert "'contact' is not mapped" in reasons[0]
    assert "'hs_priority' is not mapped" in reasons[1]
    assert "'deal.associationChange' is not mapped" in reasons[2]
    assert [d.payload["eventId"] for d in result.dead_letters] == [3001, 3002, 3003]
    # ... and the rest of the batch still maps: an empty value clears the property.
    (event,) = result.events
    assert event.changed_fields() == {"amount": None}
    assert event.type is EventType.UPDATED


def test_configurable_discount_property(stage_map):
    adapter = HubSpotWebhookAdapter(stage_map=stage_map, discount_property="special_discount")
    item = {
        "eventId": 5,
        "occurredAt": 1732179100000,
        "subscriptionType": "deal.propertyChange",
        "objectId": "77",
        "propertyName": "special_discount",
        "propertyValue": "30",
    }
    (event,) = adapter.map([item], RECEIVED_AT).events
    assert event.type is EventType.DISCOUNT_REQUESTED
    assert event.changed_fields() == {"discount_pct": 30.0}  # no sourceId: requester unknown
    old = dict(item, propertyName="discount_requested_pct", eventId=6)
    assert adapter.map([old], RECEIVED_AT).dead_letters


def test_zero_discount_is_an_update_not_a_request(adapter):
    item = {
        "eventId": 5,
        "occurredAt": 1732179100000,
        "subscriptionType": "deal.propertyChange",
        "objectId": 77,
        "propertyName": "discount_requested_pct",
        "propertyValue": "0",
    }
    (event,) = adapter.map([item], RECEIVED_AT).events
    assert event.type is EventType.UPDATED


def test_retry_is_a_duplicate(adapter, fixture):
    batch = fixture("hubspot", "batch_deals")
    retried = [dict(item, attemptNumber=item["attemptNumber"] + 1) for item in batch]
    assert [e.event_id for e in adapter.map(batch, RECEIVED_AT).events] == [
        e.event_id for e in adapter.map(retried, RECEIVED_AT).events
    ]


def test_single_object_is_accepted(adapter, fixture):
    item = fixture("hubspot", "batch_deals")[0]
    assert len(adapter.map(item, RECEIVED_AT).events) == 1


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda e: e.pop("eventId"), "[1].eventId"),
        (lambda e: e.pop("occurredAt"), "[1].occurredAt"),
        (lambda e: e.update(occurredAt="soon"), "[1].occurredAt"),
        (lambda e: e.pop("subscriptionType"), "[1].subscriptionType"),
        (lambda e: e.pop("objectId"), "[1].objectId"),
        (lambda e: e.update(objectId=True), "[1].objectId"),
        (lambda e: e.pop("propertyName"), "[1].propertyName"),
        (lambda e: e.update(propertyName="amount", propertyValue="a lot"), "[1].propertyValue"),
        (lambda e: e.update(propertyName="closedate", propertyValue="someday"), "[1].propertyValue"),
        (lambda e: e.update(propertyName="discount_requested_pct", propertyValue="150"), "[1].propertyValue"),
    ],
)
def test_bad_input_names_the_field(adapter, fixture, edit, field):
    batch = fixture("hubspot", "batch_deals")
    edit(batch[1])
    with pytest.raises(PayloadError) as info:
        adapter.map(batch, RECEIVED_AT)
    assert info.value.field == field


def test_merge_without_merged_ids_is_bad_input(adapter):
    item = {"eventId": 9, "occurredAt": 1, "subscriptionType": "deal.merge", "objectId": 10, "primaryObjectId": 10}
    with pytest.raises(PayloadError) as info:
        adapter.map([item], RECEIVED_AT)
    assert info.value.field == "[0].mergedObjectIds"


@pytest.mark.parametrize("payload", ["text", 3, ["x"]])
def test_not_a_batch(adapter, payload):
    with pytest.raises(PayloadError):
        adapter.map(payload, RECEIVED_AT)


# ------------------------------------------------------------------ v3 signature


def _signed(
    url: str, body: bytes, at: dt.datetime, secret: str = SECRET, method: str = "POST", signed_url: str | None = None
) -> RawRequest:
    timestamp = str(int(at.timestamp() * 1000))
    message = f"{method}{signed_url or url}".encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return RawRequest(
        method, url, {"x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": timestamp}, body
    )


@pytest.fixture
def signing_adapter(stage_map):
    return HubSpotWebhookAdapter(stage_map=stage_map, client_secret=SECRET, clock=lambda: NOW)


def test_valid_signature_passes(signing_adapter, fixture):
    body = json.dumps(fixture("hubspot", "batch_deals")).encode()
    signing_adapter.authenticate(_signed("https://hooks.example.com/v1/sources/hubspot", body, NOW))
    signing_adapter.authenticate(
        _signed("https://hooks.example.com/v1/sources/hubspot?x=1", body, NOW - dt.timedelta(minutes=4))
    )


def test_signature_over_decoded_uri(signing_adapter):
    url = "https://hooks.example.com/v1/sources/hubspot?portal=62515%3Aeu"
    signing_adapter.authenticate(
        _signed(url, b"[]", NOW, signed_url="https://hooks.example.com/v1/sources/hubspot?portal=62515:eu")
    )


def test_tampered_body_wrong_secret_method_or_url_fail(signing_adapter):
    url = "https://hooks.example.com/v1/sources/hubspot"
    good = _signed(url, b"[]", NOW)
    for bad in (
        RawRequest(good.method, good.url, good.headers, b"[{}]"),
        RawRequest(good.method, url + "/other", good.headers, good.body),
        RawRequest("PUT", good.url, good.headers, good.body),
        _signed(url, b"[]", NOW, secret="other-secret"),
    ):
        with pytest.raises(AuthError, match="does not match"):
            signing_adapter.authenticate(bad)


def test_old_or_future_timestamps_are_rejected(signing_adapter):
    url = "https://hooks.example.com/v1/sources/hubspot"
    with pytest.raises(AuthError, match="older"):
        signing_adapter.authenticate(_signed(url, b"[]", NOW - dt.timedelta(minutes=5, seconds=1)))
    with pytest.raises(AuthError, match="future"):
        signing_adapter.authenticate(_signed(url, b"[]", NOW + dt.timedelta(minutes=6)))


def test_max_age_is_configurable(stage_map):
    adapter = HubSpotWebhookAdapter(stage_map=stage_map, client_secret=SECRET, max_age=60, clock=lambda: NOW)
    url = "https://hooks.example.com/v1/sources/hubspot"
    adapter.authenticate(_signed(url, b"[]", NOW - dt.timedelta(seconds=59)))
    with pytest.raises(AuthError):
        adapter.authenticate(_signed(url, b"[]", NOW - dt.timedelta(seconds=61)))


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-hubspot-signature-v3": "abc"}, {"x-hubspot-signature-v3": "abc", "x-hubspot-request-timestamp": "noon"}],
)
def test_missing_or_malformed_headers(signing_adapter, headers):
    with pytest.raises(AuthError):
        signing_adapter.authenticate(RawRequest("POST", "https://h/x", headers, b"[]"))


def test_no_secret_means_no_check(adapter):
    adapter.authenticate(RawRequest("POST", "https://h/x", {}, b"[]"))
