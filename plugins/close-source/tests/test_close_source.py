"""The example plug-in, tested from its own package: mapping, and discovery by ingest."""

import datetime as dt
import hashlib
import hmac

import pytest

from pipeline_review_close import CloseAdapter, make_adapter
from services.ingest.sources.base import AuthError, PayloadError, RawRequest
from services.ingest.sources.registry import load_plugins, make_plugin_adapters
from services.shared.settings import DEFAULT_STAGE_MAP
from services.shared.stages import StageMap

pytestmark = pytest.mark.unit
STAGES = StageMap.load(DEFAULT_STAGE_MAP)
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def webhook(action, data=None, previous=None, object_type="opportunity"):
    return {
        "subscription_id": "whsub_1",
        "event": {
            "id": "ev_5Kp2",
            "object_type": object_type,
            "action": action,
            "object_id": "oppo_8Xy",
            "date_created": "2026-11-20T10:15:00.123000+00:00",
            "data": data or {},
            "previous_data": previous or {},
        },
    }


def test_created_opportunity_maps_to_a_canonical_event():
    result = CloseAdapter(STAGES).map(
        webhook(
            "created",
            {
                "value": 1250000,
                "value_currency": "USD",
                "lead_name": "Wayne Enterprises",
                "status_label": "Active",
                "user_id": "user_7",
                "expected_date": "2027-01-15",
                "confidence": 40,
            },
        ),
        NOW,
    )
    [event] = result.events
    assert event.deal_id == "close:oppo_8Xy" and event.event_id == "close:ev_5Kp2"
    assert event.type.value == "deal.created"
    assert event.changed_fields() == {
        "amount": 12500.0,
        "currency": "USD",
        "account": "Wayne Enterprises",
        "stage": "Active",
        "owner_id": "user_7",
        "close_date": "2027-01-15",
        "probability": 40.0,
    }


def test_update_carries_only_the_changed_fields():
    result = CloseAdapter(STAGES).map(
        webhook("updated", {"value": 900000, "note": "call CFO", "status_label": "Active"}, {"value": 1250000}), NOW
    )
    assert result.events[0].changed_fields() == {"amount": 9000.0}
    assert result.events[0].type.value == "deal.updated"


def test_other_objects_are_dead_lettered_and_bad_values_name_the_field():
    assert CloseAdapter(STAGES).map(webhook("created", object_type="lead"), NOW).dead_letters
    with pytest.raises(PayloadError, match=r"event.data.value"):
        CloseAdapter(STAGES).map(webhook("created", {"value": "lots"}), NOW)


def test_ingest_discovers_the_plugin_through_its_entry_point():
    factories = load_plugins()
    assert "close" in factories
    adapters = make_plugin_adapters(factories, STAGES)
    assert isinstance(adapters["close"], CloseAdapter)


KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
BODY = b'{"event": {}}'


def signed(body=BODY, key=KEY, at=NOW, **headers):
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(bytes.fromhex(key), timestamp.encode() + body, hashlib.sha256).hexdigest()
    given = {"close-sig-hash": digest, "close-sig-timestamp": timestamp} | headers
    return RawRequest(method="POST", url="http://127.0.0.1/v1/sources/close", headers=given, body=body)


def test_the_plugin_declares_its_signature_and_the_setting_holding_the_key():
    adapter = CloseAdapter(STAGES, signature_key=KEY, clock=lambda: NOW)
    assert adapter.auth.variables == ("PR_CLOSE_SIGNATURE_KEY",) and adapter.auth.configured
    assert not CloseAdapter(STAGES).auth.configured
    adapter.authenticate(signed())


@pytest.mark.parametrize(
    "request_, problem",
    [
        (signed(), None),  # signed, then the body changed on the way
        (signed(key="00" * 16), "does not match"),
        (signed(at=NOW - dt.timedelta(hours=1)), "away from now"),
        (signed(**{"close-sig-timestamp": "\u00b2"}), "required"),
        (signed(**{"close-sig-hash": "not hex \u00e9"}), "not hex"),
        (signed(**{"close-sig-timestamp": "9" * 30}), "out of range"),
    ],
)
def test_wrong_or_malformed_signatures_raise_auth_errors_only(request_, problem):
    adapter = CloseAdapter(STAGES, signature_key=KEY, clock=lambda: NOW)
    tampered = RawRequest(request_.method, request_.url, request_.headers, request_.body + b" ")
    with pytest.raises(AuthError, match=problem or "does not match"):
        adapter.authenticate(tampered if problem is None else request_)


def test_make_adapter_reads_the_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("PR_CLOSE_SIGNATURE_KEY", KEY)
    assert make_adapter(STAGES).auth.configured
    monkeypatch.setenv("PR_CLOSE_SIGNATURE_KEY", "not-hex")
    with pytest.raises(ValueError, match="PR_CLOSE_SIGNATURE_KEY"):
        make_adapter(STAGES)
