"""Ingest's doors: keys and sources on /v1/events, CRM secrets, hostile input, rate limits.

The app runs in-process with a fake producer: what these tests hold is who may post what
and what each refusal answers, not Kafka.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared.auth import OpenModeRefused
from services.shared.settings import CommonSettings

pytestmark = pytest.mark.unit
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
LOADER = "k-loader-0001"  # no sources listed: api and csv
BRIDGE = "k-bridge-0001"  # may post salesforce events on /v1/events
SF_TOKEN = "sf-token-0123456789"


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[bytes, bytes]]]] = []

    async def send(self, topic, records):
        self.sent.append((topic, list(records)))

    async def ready(self, topic):
        return True

    async def close(self):
        return None

    def values(self, topic_suffix: str) -> list[dict]:
        return [json.loads(v) for topic, records in self.sent if topic.endswith(topic_suffix) for _, v in records]


def client(producer=None, *, keys: str | None = f"{LOADER},{BRIDGE}:salesforce|api", **options) -> TestClient:
    settings = IngestSettings(
        host=options.pop("host", "127.0.0.1"),
        api_keys=keys,
        common=CommonSettings(allow_open=options.pop("allow_open", False)),
        **options,
    )
    return TestClient(create_app(settings, producer or FakeProducer(), clock=lambda: NOW))


def event(**overrides) -> dict:
    return {
        "event_id": "e1",
        "source": "api",
        "deal_id": "api:1",
        "occurred_at": "2026-11-26T11:00:00Z",
        "type": "deal.created",
        "changes": {"amount": 10},
    } | overrides


def sf_cdc(**header) -> dict:
    return {
        "payload": {
            "ChangeEventHeader": {
                "entityName": "Opportunity",
                "changeType": "CREATE",
                "recordIds": ["006A"],
                "transactionKey": "tx1",
                "sequenceNumber": 1,
                "commitTimestamp": 1795687200000,
            }
            | header,
            "Name": "Deal",
            "Amount": 10,
        }
    }


# ------------------------------------------------------------------ /v1/events


def test_a_key_is_needed_and_sent_as_x_api_key_or_bearer():
    api = client()
    missing = api.post("/v1/events", json=event())
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    assert api.post("/v1/events", json=event(), headers={"X-API-Key": "k-unknown-99"}).status_code == 401
    assert api.post(f"/v1/events?api_key={LOADER}", json=event()).status_code == 401  # never from a URL
    assert api.post("/v1/events", json=event(), headers={"X-API-Key": LOADER}).status_code == 202
    assert api.post("/v1/events", json=event(), headers={"Authorization": f"Bearer {LOADER}"}).status_code == 202


def test_a_key_listing_no_sources_posts_api_and_csv_only():
    api = client()
    ok = api.post(
        "/v1/events", json=[event(), event(event_id="e2", source="csv", deal_id="csv:9")], headers={"X-API-Key": LOADER}
    )
    assert ok.status_code == 202 and ok.json()["accepted"] == 2
    forged = api.post(
        "/v1/events",
        json=[event(), event(event_id="e2", source="salesforce", deal_id="salesforce:006A")],
        headers={"X-API-Key": LOADER},
    )
    assert forged.status_code == 403
    assert forged.json()["detail"].startswith(
        "events[1].source: the key 'key-1:api|csv' may not post source 'salesforce'"
    )


def test_a_key_may_post_the_sources_it_lists():
    api = client()
    answer = api.post(
        "/v1/events", json=event(source="salesforce", deal_id="salesforce:006A"), headers={"X-API-Key": BRIDGE}
    )
    assert answer.status_code == 202
    assert (
        api.post("/v1/events", json=event(source="csv", deal_id="csv:1"), headers={"X-API-Key": BRIDGE}).status_code
        == 403
    )


@pytest.mark.parametrize("keys", [f"{LOADER},{BRIDGE}:salesforce|api", None])
def test_a_manager_action_cannot_be_posted_to_ingest(keys):
    producer = FakeProducer()
    api = client(producer, keys=keys)
    forged = event(
        type="deal.discount_decided",
        changes={},
        action={"by": "ceo", "alert_id": "al-" + "0" * 20, "decision": "approved", "discount_pct": 30},
    )
    answer = api.post("/v1/events", json=forged, headers={"X-API-Key": LOADER} if keys else {})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(
        "event.type: deal.discount_decided is a manager action: post it through review"
    )
    assert producer.sent == []


@pytest.mark.parametrize("keys", [f"{LOADER},{BRIDGE}:salesforce|api", None])
def test_a_forged_event_cannot_move_a_crm_deal_with_or_without_keys(keys):
    api = client(keys=keys)
    headers = {"X-API-Key": BRIDGE} if keys else {}
    onto_crm = api.post("/v1/events", json=event(deal_id="salesforce:006A"), headers=headers)
    assert onto_crm.status_code == 422
    assert onto_crm.json()["detail"].startswith(
        "event.deal_id: deal_id 'salesforce:006A' belongs to source 'salesforce'"
    )
    wrong_prefix = api.post("/v1/events", json=event(source="salesforce", deal_id="api:1"), headers=headers)
    assert wrong_prefix.status_code == 422
    assert wrong_prefix.json()["detail"].startswith("event.deal_id: an event from source 'salesforce' must carry")
    # The plug-in's name counts as a CRM too.
    assert api.post("/v1/events", json=event(deal_id="close:oppo_1"), headers=headers).status_code == 422


def test_open_mode_on_loopback_takes_calls_without_a_key():
    api = client(keys=None)
    assert api.app.state.open_mode
    assert api.post("/v1/events", json=event()).status_code == 202


def test_no_keys_on_a_public_address_refuses_to_build_unless_allowed():
    with pytest.raises(OpenModeRefused, match=r"PR_INGEST_API_KEYS.*PR_ALLOW_OPEN"):
        client(keys=None, host="0.0.0.0")
    assert client(keys=None, host="0.0.0.0", allow_open=True).app.state.open_mode
    assert not client(host="0.0.0.0").app.state.open_mode


# ------------------------------------------------------------------ hostile input on /v1/events


def test_occurred_at_beyond_the_clock_skew_is_a_422_naming_the_field():
    api = client(keys=None)
    assert api.post("/v1/events", json=event(occurred_at="2026-11-26T12:04:59Z")).status_code == 202
    late = api.post("/v1/events", json=[event(), event(event_id="e2", occurred_at="9999-12-31T00:00:00Z")])
    assert late.status_code == 422
    assert late.json()["detail"].startswith("events[1].occurred_at: 9999-12-31T00:00:00+00:00 is later than now")
    assert "PR_INGEST_MAX_CLOCK_SKEW" in late.json()["detail"]
    tight = client(keys=None, max_clock_skew=0)
    assert tight.post("/v1/events", json=event(occurred_at="2026-11-26T12:00:01Z")).status_code == 422


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"sequence": 2**63}, "event.sequence"),
        ({"sequence": -(2**63) - 1}, "event.sequence"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "event.occurred_at"),
    ],
)
def test_values_no_reader_could_keep_are_422s(overrides, field):
    answer = client(keys=None).post("/v1/events", json=event(**overrides))
    assert answer.status_code == 422 and answer.json()["detail"].startswith(field + ":")


def test_a_sequence_at_the_64_bit_edge_is_accepted():
    assert client(keys=None).post("/v1/events", json=event(sequence=2**63 - 1)).status_code == 202


def test_a_content_length_of_non_ascii_digits_is_not_a_500():
    answer = client(keys=None).post(
        "/v1/events",
        content=json.dumps(event()),
        headers={"Content-Type": "application/json", "Content-Length": "²".encode("latin-1")},
    )
    assert answer.status_code < 500


# ------------------------------------------------------------------ rate limits


def test_requests_beyond_the_rate_answer_429_with_retry_after():
    api = client(rate_limit="2/minute")
    headers = {"X-API-Key": LOADER}
    assert [api.post("/v1/events", json=event(), headers=headers).status_code for _ in range(2)] == [202, 202]
    limited = api.post("/v1/events", json=event(), headers=headers)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"].isdigit() and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "2/minute" in limited.json()["detail"]
    # Another key has its own budget.
    assert api.post("/v1/events", json=event(), headers={"X-API-Key": BRIDGE}).status_code == 202


def test_open_mode_limits_per_client_address():
    api = client(keys=None, rate_limit="1/minute")
    assert api.post("/v1/events", json=event()).status_code == 202
    assert api.post("/v1/events", json=event()).status_code == 429


# ------------------------------------------------------------------ CRM routes


@pytest.mark.parametrize(
    "route, variables",
    [
        ("salesforce", "PR_INGEST_SALESFORCE_TOKEN is not set"),
        ("hubspot", "PR_INGEST_HUBSPOT_CLIENT_SECRET is not set"),
        ("pipedrive", "PR_INGEST_PIPEDRIVE_USER and PR_INGEST_PIPEDRIVE_PASSWORD are not set"),
        ("close", "PR_CLOSE_SIGNATURE_KEY is not set"),
    ],
)
def test_a_crm_route_without_its_secret_refuses_with_503_naming_the_variable(route, variables):
    answer = client().post(f"/v1/sources/{route}", json={})
    assert answer.status_code == 503 and variables in answer.json()["detail"]


def test_a_crm_route_without_its_secret_accepts_in_open_mode():
    producer = FakeProducer()
    assert client(producer, keys=None).post("/v1/sources/salesforce", json=sf_cdc()).status_code == 202
    assert producer.values("deal-events")[0]["deal_id"] == "salesforce:006A"


def test_salesforce_needs_the_bearer_token():
    api = client(salesforce_token=SF_TOKEN)
    assert api.post("/v1/sources/salesforce", json=sf_cdc()).status_code == 401
    wrong = api.post("/v1/sources/salesforce", json=sf_cdc(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    # An ingest key is not a Salesforce token.
    assert (
        api.post("/v1/sources/salesforce", json=sf_cdc(), headers={"Authorization": f"Bearer {BRIDGE}"}).status_code
        == 401
    )
    good = api.post("/v1/sources/salesforce", json=sf_cdc(), headers={"Authorization": f"Bearer {SF_TOKEN}"})
    assert good.status_code == 202 and good.json()["accepted"] == 1


def test_a_future_crm_event_goes_to_the_dead_letter_topic_with_the_reason():
    producer = FakeProducer()
    api = client(producer, keys=None)
    far = int(dt.datetime(9999, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    answer = api.post("/v1/sources/salesforce", json=[sf_cdc(), sf_cdc(commitTimestamp=far, transactionKey="tx2")])
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 1 and body["dead_lettered"] == 1
    assert "PR_INGEST_MAX_CLOCK_SKEW" in body["dead_letter_reasons"][0]
    [letter] = producer.values("-dlq")
    assert "later than ingest's clock" in letter["reason"] and letter["payload"]["event_id"].startswith(
        "salesforce:tx2"
    )


@pytest.mark.parametrize(
    "body, status, detail",
    [
        (b"[" * 100_000 + b"]" * 100_000, 400, "body: not valid JSON (nested too deeply)"),
        (b'{"n": ' + b"7" * 5000 + b"}", 400, "body: not valid JSON (Exceeds the limit (4300 digits)"),
        (
            json.dumps(sf_cdc(sequenceNumber=2**64 + 1)).encode(),
            422,
            "payload.ChangeEventHeader.sequenceNumber: must fit",
        ),
        (json.dumps(sf_cdc(sequenceNumber="²")).encode(), 422, "payload.ChangeEventHeader.sequenceNumber: is required"),
        (
            json.dumps(sf_cdc(commitTimestamp=10**400)).encode(),
            422,
            "payload.ChangeEventHeader.commitTimestamp: epoch value",
        ),
        (json.dumps(sf_cdc(commitTimestamp="²")).encode(), 422, "payload.ChangeEventHeader.commitTimestamp:"),
        (json.dumps(sf_cdc(commitTimestamp="0001-01-01T00:00:00+01:00")).encode(), 422, "converted to UTC"),
    ],
)
def test_hostile_source_payloads_are_4xx_naming_the_problem(body, status, detail):
    answer = client(keys=None).post(
        "/v1/sources/salesforce", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"].startswith(detail) or detail in answer.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "²"},
        {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "9" * 5000},
        {"X-HubSpot-Signature-v3": "é\u00ff", "X-HubSpot-Request-Timestamp": str(int(NOW.timestamp() * 1000))},
    ],
)
def test_hubspot_signature_inputs_that_used_to_raise_are_401s(headers):
    api = client(hubspot_client_secret="hub-secret-01")
    answer = api.post(
        "/v1/sources/hubspot",
        content=b"[]",
        headers={"Content-Type": "application/json"} | {k: v.encode("latin-1") for k, v in headers.items()},
    )
    assert answer.status_code == 401 and answer.json()["detail"].startswith("hubspot:")


def test_hubspot_signature_with_a_lone_surrogate_returns_a_mismatch_not_an_exception():
    from services.ingest.sources.base import AuthError, RawRequest
    from services.ingest.sources.hubspot import HubSpotWebhookAdapter
    from services.shared.settings import DEFAULT_STAGE_MAP
    from services.shared.stages import StageMap

    adapter = HubSpotWebhookAdapter(stage_map=StageMap.load(DEFAULT_STAGE_MAP), client_secret="s", clock=lambda: NOW)
    stamp = str(int(NOW.timestamp() * 1000))
    request = RawRequest(
        "POST",
        "http://127.0.0.1/v1/sources/hubspot",
        {"x-hubspot-signature-v3": "\ud800", "x-hubspot-request-timestamp": stamp},
        b"[]",
    )
    with pytest.raises(AuthError, match="does not match"):
        adapter.authenticate(request)


def test_a_plugin_check_that_crashes_fails_closed_with_401(monkeypatch):
    from services.ingest.sources.salesforce import SalesforceCDCAdapter

    def broken(self, request):
        raise TypeError("a bug in the check")

    monkeypatch.setattr(SalesforceCDCAdapter, "authenticate", broken)
    answer = client(salesforce_token=SF_TOKEN).post("/v1/sources/salesforce", json=sf_cdc())
    assert answer.status_code == 401 and answer.json()["detail"] == "salesforce: the credentials could not be verified"


def test_a_malformed_rate_or_key_setting_names_the_variable():
    with pytest.raises(ValueError, match="PR_INGEST_RATE_LIMIT"):
        client(rate_limit="lots")
    with pytest.raises(ValueError, match="PR_INGEST_API_KEYS entry 1: key must be"):
        client(keys="short")


def test_ingest_redacts_keys_sent_in_a_query_string_from_its_access_log(caplog, monkeypatch):
    import logging

    from services.shared.log_redaction import RedactSecrets

    access = logging.getLogger("uvicorn.access")
    for installed in [f for f in access.filters if isinstance(f, RedactSecrets)]:
        monkeypatch.setattr(access, "filters", [f for f in access.filters if f is not installed])
    client()  # creating ingest's app installs the redaction
    # A uvicorn started earlier in the same run (dictConfig) stops the logger propagating to
    # caplog's root handler, or disables it: undo that for this test only.
    monkeypatch.setattr(access, "propagate", True)
    monkeypatch.setattr(access, "disabled", False)
    caplog.set_level("INFO", logger="uvicorn.access")
    caplog.set_level("INFO")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", f"/v1/events?api_key={LOADER}", "1.1", 401)
    assert LOADER not in caplog.text and "/v1/events?api_key=[redacted]" in caplog.text
