"""Pure webhook logic: signatures, filters, bodies, URL checks and the retry schedule."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json

import pytest
from pydantic import ValidationError

from services.review.webhooks.rules import (
    WebhookFilter,
    backoff_delay,
    generic_error,
    host_of,
    parse_retry_after,
    render_body,
    sign,
    slack_body,
    validate_webhook_url,
    verify_signature,
)
from services.review.webhooks.settings import WebhookSettings

pytestmark = pytest.mark.unit


def alert(**over):
    base = {
        "alert_id": "al-1",
        "kind": "late_stage_discount",
        "severity": "medium",
        "deal_id": "api:acme",
        "event_id": "ev-1",
        "name": "Acme <expansion>",
        "account": "Acme & Co",
        "owner_id": "u-1",
        "team": "East",
        "manager_id": "m-1",
        "stage": "Negotiation/Review",
        "phase": "late",
        "amount": 200000.0,
        "currency": "EUR",
        "discount_pct": 15.0,
        "discount_reason": "competitor",
        "value_at_risk": 30000.0,
        "requested_by": "rep-1",
        "occurred_at": "2026-11-02T09:00:00+00:00",
    }
    return base | over


# -- signature ---------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_signature_and_rejects_tampering():
    body = b'{"alert":{"alert_id":"al-1"}}'
    header = sign("k", 1000, body)
    assert verify_signature("k", header, body, now=1010)
    assert not verify_signature("other", header, body, now=1010)
    assert not verify_signature("k", header, body + b" ", now=1010)
    assert not verify_signature("k", header.replace("t=1000", "t=1001"), body, now=1010)


def test_verify_rejects_old_or_malformed_headers():
    body = b"{}"
    header = sign("k", 1000, body)
    assert not verify_signature("k", header, body, now=1000 + 301)
    assert verify_signature("k", header, body, now=1000 + 301, tolerance=600)
    for bad in (None, "", "v1=abc", "t=1000", "t=x,v1=" + "0" * 64):
        assert not verify_signature("k", bad, body, now=1000)


def test_verify_accepts_any_of_several_v1_values():
    body = b"{}"
    good = sign("k", 1000, body).split("v1=")[1]
    assert verify_signature("k", f"t=1000,v1={'0' * 64},v1={good}", body, now=1000)


# -- filter --------------------------------------------------------------------------------


def test_default_filter_takes_late_stage_alerts_only():
    flt = WebhookFilter()
    assert flt.matches(alert())
    assert not flt.matches(alert(kind="discount_info", severity="info"))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"teams": ["East", "West"]}, True),
        ({"teams": ["West"]}, False),
        ({"manager_id": "m-1"}, True),
        ({"manager_id": "m-2"}, False),
        ({"min_severity": "medium"}, True),
        ({"min_severity": "high"}, False),
        ({"min_value_at_risk": 30000}, True),
        ({"min_value_at_risk": 30000.01}, False),
        ({"kinds": ["discount_info"]}, False),
        ({"kinds": ["discount_info", "late_stage_discount"], "teams": ["East"], "min_severity": "low"}, True),
    ],
)
def test_filter_conditions_all_must_hold(flt, expected):
    assert WebhookFilter.model_validate(flt).matches(alert()) is expected


def test_info_alerts_rank_below_low_severity():
    info = alert(kind="discount_info", severity="info")
    assert WebhookFilter(kinds=["discount_info"]).matches(info)
    assert not WebhookFilter(kinds=["discount_info"], min_severity="low").matches(info)


def test_filter_rejects_unknown_kinds_and_fields():
    with pytest.raises(ValidationError):
        WebhookFilter.model_validate({"kinds": ["big_deal"]})
    with pytest.raises(ValidationError):
        WebhookFilter.model_validate({"team": "East"})


# -- bodies --------------------------------------------------------------------------------


def test_json_body_wraps_the_alert():
    body = json.loads(render_body("json", "wh-1", alert()))
    assert body == {"type": "alert", "subscription_id": "wh-1", "alert": alert()}


def test_slack_body_has_text_and_blocks_and_escapes_markup():
    body = slack_body(alert())
    assert set(body) == {"text", "blocks"}
    assert "15% on Acme &lt;expansion&gt; (Acme &amp; Co), 30,000.00 EUR at risk" in body["text"]
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "Late-stage discount requested", "emoji": True}
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][2]["fields"]}
    assert fields["*Stage*"] == "Negotiation/Review (late)"
    assert fields["*Amount*"] == "200,000.00 EUR"
    assert all(f["type"] == "mrkdwn" for f in body["blocks"][2]["fields"])
    assert "al-1" in body["blocks"][3]["elements"][0]["text"]
    assert json.loads(render_body("slack", "wh-1", alert())) == body


def test_slack_body_for_information_and_sparse_alerts():
    body = slack_body({"kind": "discount_info", "deal_id": "api:x", "discount_pct": 5, "value_at_risk": 50})
    assert body["text"].startswith(":information_source: Discount requested: 5% on api:x, 50.00 at risk")


def test_slack_body_respects_block_text_limits():
    body = slack_body(alert(discount_reason="x" * 5000, name="n" * 4000))
    assert len(body["text"]) <= 3000
    assert all(len(f["text"]) <= 2000 for f in body["blocks"][2]["fields"])
    assert len(body["blocks"][1]["text"]["text"]) <= 3000


# -- urls ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://127.0.0.1:8080/hook?x=1"])
def test_http_and_https_urls_are_accepted(url):
    assert validate_webhook_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "example.com/x",
        "https://",
        "http://host:99999999/",
        "https://exa mple.com/",
        "javascript:alert(1)",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "http://0177.0.0.1/",
    ],
)
def test_other_urls_are_rejected(url):
    with pytest.raises(ValueError):
        validate_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:password@hooks.example.com/x",
        "https://user@hooks.example.com/x",
        "http://hooks.example.com@127.0.0.1/",
    ],
)
def test_urls_with_user_info_are_rejected_naming_it(url):
    with pytest.raises(ValueError, match="user:password@"):
        validate_webhook_url(url)


def test_host_of_keeps_host_and_port_only():
    assert host_of("https://hooks.slack.com/services/T0/B0/XYZ") == "hooks.slack.com"
    assert host_of("http://[2001:db8::1]:8080/x?token=1") == "[2001:db8::1]:8080"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("HTTP 503", "HTTP 503"),
        ("timeout", "timeout"),
        ("connection failed", "connection failed"),
        ("address not allowed", "address not allowed"),
        ("timeout after 10s", "timeout"),
        ("ConnectError: [Errno 111] Connection refused", "connection failed"),
        ("HTTP 500: <html>redis_version:7.2</html>", "connection failed"),
        (None, None),
    ],
)
def test_delivery_errors_are_reduced_to_generic_ones(stored, shown):
    assert generic_error(stored) == shown


# -- retry schedule --------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_maximum():
    top = [backoff_delay(n, 2.0, 60.0, rand=lambda: 1.0) for n in range(1, 9)]
    assert top == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_backoff_jitter_stays_between_half_and_full_delay():
    assert backoff_delay(3, 2.0, 60.0, rand=lambda: 0.0) == 4.0
    for _ in range(200):
        assert 4.0 <= backoff_delay(3, 2.0, 60.0) < 8.0


def test_retry_after_wins_when_longer_but_not_beyond_the_maximum():
    assert backoff_delay(1, 2.0, 60.0, retry_after=30, rand=lambda: 1.0) == 30
    assert backoff_delay(1, 2.0, 60.0, retry_after=3600, rand=lambda: 1.0) == 60
    assert backoff_delay(4, 2.0, 60.0, retry_after=1, rand=lambda: 1.0) == 16


def test_backoff_does_not_overflow_for_many_failures():
    assert backoff_delay(10_000, 1.0, 300.0, rand=lambda: 1.0) == 300.0


@pytest.mark.parametrize(
    "header",
    [
        "²",
        "٣",
        "1²",
        "１２",
        "-5",  # noqa: RUF001 - non-ASCII digits on purpose
        "1e3",
        "0x10",
        "Wed, ٣1 Dec 2026 00:00:00 GMT",
        "Mon, 31 Dec 99999 00:00:00 GMT",
        "Mon, 32 Foo 2026 99:99:99 GMT",
        " ",
        "9" * 5000,
    ],
)
def test_retry_after_that_is_not_ascii_seconds_or_a_date_is_ignored(header):
    # "²".isdigit() is true; the header used to crash the attempt, so the job was retried forever.
    assert parse_retry_after(header, now=0) is None


def test_retry_after_is_bounded():
    assert parse_retry_after("999999999999999999", now=0) == 86_400
    assert parse_retry_after(email.utils.formatdate(10**10, usegmt=True), now=0) == 86_400


def test_verify_returns_false_for_non_ascii_timestamps():
    body = b"{}"
    assert not verify_signature("s", "t=²,v1=" + "0" * 64, body)
    assert not verify_signature("s", "t=١٢٣,v1=" + "0" * 64, body)
    assert not verify_signature("s", "t=" + "9" * 5000 + ",v1=" + "0" * 64, body)


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("120", now=0) == 120
    assert parse_retry_after(email.utils.formatdate(1_000_060, usegmt=True), now=1_000_000) == 60
    assert parse_retry_after(email.utils.formatdate(999_000, usegmt=True), now=1_000_000) == 0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_settings_read_their_own_prefix(monkeypatch):
    monkeypatch.setenv("PR_REVIEW_WEBHOOK_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("PR_REVIEW_WEBHOOK_CONSUMER_GROUP", "g1")
    settings = WebhookSettings()
    assert (settings.max_attempts, settings.consumer_group, settings.enabled) == (3, "g1", True)


def test_allow_nets_reads_a_cidr_list_and_names_a_bad_entry(monkeypatch):
    monkeypatch.setenv("PR_REVIEW_WEBHOOK_ALLOW_NETS", "127.0.0.0/8, fd00:1::/64")
    assert [str(n) for n in WebhookSettings().allowed_networks] == ["127.0.0.0/8", "fd00:1::/64"]
    monkeypatch.setenv("PR_REVIEW_WEBHOOK_ALLOW_NETS", "127.0.0.0/8,10.0.0.300/8")
    with pytest.raises(ValidationError, match=r"10.0.0.300/8"):
        WebhookSettings()
    monkeypatch.delenv("PR_REVIEW_WEBHOOK_ALLOW_NETS")
    assert WebhookSettings().allowed_networks == ()
