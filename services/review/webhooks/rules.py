"""The pure rules of the webhooks (no I/O): the filter, the URL check, the bodies, the signature, the retry schedule."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from services.shared.alert_kinds import MOVEMENT_KINDS, AlertKind

from .. import alert_text
from ..alerts import AlertFilter

SIGNATURE_HEADER = "X-PipelineReview-Signature"
ALERT_ID_HEADER = "X-PipelineReview-Alert-Id"
DELIVERY_HEADER = "X-PipelineReview-Delivery"
ATTEMPT_HEADER = "X-PipelineReview-Attempt"
USER_AGENT = "PipelineReview-Webhooks/1"

Severity = Literal["info", "low", "medium", "high"]
Format = Literal["json", "slack"]
ASCII_INT = re.compile(r"[0-9]{1,18}", re.ASCII)  # str.isdigit() also takes "²" and "٣"


class WebhookFilter(BaseModel):
    """Which alerts a subscription receives; every condition given must hold."""

    model_config = ConfigDict(extra="forbid")

    teams: list[str] | None = Field(
        None, min_length=1, max_length=100, description="Only these teams; null = all teams."
    )
    manager_id: str | None = Field(None, max_length=200, description="Only deals of this manager id.")
    kinds: list[AlertKind] = Field(
        default_factory=lambda: list[AlertKind](["late_stage_discount"]),
        min_length=1,
        description="Alert kinds; add discount_info for discounts on early and mid deals, and close_date_pushed, "
        "qualification_gap or stalled for pipeline movement.",
    )
    min_severity: Severity | None = Field(
        None, description="Only alerts at least this severe (info < low < medium < high)."
    )
    min_value_at_risk: float | None = Field(None, ge=0, description="Only alerts with at least this value at risk.")

    def alert_filter(self) -> AlertFilter:
        """The same conditions as the feed's filter: one matching rule for the feed, streams and webhooks."""
        return AlertFilter(
            teams=frozenset(self.teams) if self.teams is not None else None,
            manager=self.manager_id,
            kinds=frozenset(self.kinds),
            min_severity=self.min_severity,
            min_value_at_risk=self.min_value_at_risk,
        )

    def matches(self, alert: Mapping[str, Any]) -> bool:
        """True when ``alert`` passes every condition."""
        return self.alert_filter().matches(alert)


def validate_webhook_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host and no user info; ValueError otherwise.

    Where the host points is checked separately (``guard.check_url``): that needs DNS.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError("must be a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError("must not contain spaces or control characters")
    if "@" in parts.netloc:
        raise ValueError("must not carry user:password@ (put credentials in the path or rely on the signature)")
    try:
        httpx.URL(url)  # what delivery will parse; it refuses some hosts urlsplit takes (e.g. 0177.0.0.1)
    except httpx.InvalidURL as exc:
        raise ValueError(f"must be a valid URL ({exc})") from None
    return url


def host_of(url: str) -> str:
    """The host (and port, when given) of a webhook URL: what non-admins see of it."""
    return urlsplit(url).netloc.rpartition("@")[2]


# The only delivery errors ever stored or shown: a receiver's text or an exception's
# message could carry what a port scan wants to learn, so neither is kept.
TIMEOUT = "timeout"
CONNECTION_FAILED = "connection failed"
ADDRESS_REFUSED = "address not allowed"
_GENERIC_ERROR = re.compile(r"HTTP [0-9]{3}", re.ASCII)


def generic_error(error: str | None) -> str | None:
    """``error`` if it is one of the generic delivery errors, else ``connection failed``.

    Applied when reading too, so records written by older versions never show more.
    """
    if error is None or error in (TIMEOUT, CONNECTION_FAILED, ADDRESS_REFUSED) or _GENERIC_ERROR.fullmatch(error):
        return error
    return TIMEOUT if error.startswith("timeout") else CONNECTION_FAILED


class Subscription(BaseModel):
    """A stored subscription; ``secret`` never leaves the API after creation."""

    id: str
    url: str
    format: Format = "json"
    filter: WebhookFilter = Field(default_factory=WebhookFilter)
    description: str | None = None
    created_by: str | None = None
    created_at: str
    secret: str

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the secret."""
        return self.model_dump(mode="json", exclude={"secret"})


def json_body(subscription_id: str, alert: dict[str, Any]) -> dict[str, Any]:
    """The ``json`` format: the alert in a small envelope."""
    return {"type": "alert", "subscription_id": subscription_id, "alert": alert}


def _slack_escape(text: Any) -> str:
    # Slack mrkdwn treats &, < and > as control characters.
    return str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _money(value: Any, currency: Any) -> str:
    try:
        amount = f"{float(value):,.2f}"
    except (TypeError, ValueError):
        amount = str(value)
    return f"{amount} {currency}".strip() if currency else amount


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(alert: dict[str, Any]) -> dict[str, Any]:
    """The ``slack`` format: an incoming-webhook message with ``text`` and ``blocks``."""
    if alert.get("kind") in MOVEMENT_KINDS:
        return alert_text.slack_body(alert, _slack_escape)
    late = alert.get("kind") == "late_stage_discount"
    title = "Late-stage discount requested" if late else "Discount requested"
    icon = ":rotating_light:" if late else ":information_source:"
    deal = _slack_escape(alert.get("name") or alert.get("deal_id"))
    account = _slack_escape(alert.get("account"))
    pct = f"{float(alert.get('discount_pct') or 0):g}%"
    at_risk = _money(alert.get("value_at_risk"), alert.get("currency"))
    who = _slack_escape(alert.get("requested_by") or "someone")
    text = f"{icon} {title}: {pct} on {deal}" + (f" ({account})" if account else "") + f", {at_risk} at risk"
    fields = [
        ("Stage", f"{_slack_escape(alert.get('stage'))} ({_slack_escape(alert.get('phase'))})"),
        ("Amount", _money(alert.get("amount"), alert.get("currency"))),
        ("Severity", _slack_escape(alert.get("severity"))),
        ("Team", _slack_escape(alert.get("team"))),
        ("Owner", _slack_escape(alert.get("owner_id"))),
        ("Reason", _slack_escape(alert.get("discount_reason") or "not given")),
    ]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _short(
                    f"*{deal}*"
                    + (f" · {account}" if account else "")
                    + f"\n{who} asked for {pct} off: *{at_risk}* at risk.",
                    3000,
                ),
            },
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _short(f"*{k}*\n{v}", 2000)} for k, v in fields]},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _short(
                        f"deal {_slack_escape(alert.get('deal_id'))} · alert {_slack_escape(alert.get('alert_id'))}"
                        f" · {_slack_escape(alert.get('occurred_at'))}",
                        3000,
                    ),
                }
            ],
        },
    ]
    return {"text": _short(text, 3000), "blocks": blocks}


def render_body(fmt: Format, subscription_id: str, alert: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed) for a subscription of this format."""
    payload = slack_body(alert) if fmt == "slack" else json_body(subscription_id, alert)
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance: float = 300.0, now: float | None = None
) -> bool:
    """For receivers: True when ``header`` signs ``body`` (the raw request bytes) with ``secret``.

    Rejects timestamps more than ``tolerance`` seconds from ``now`` (replay protection).
    Several ``v1=`` values are accepted, any one may match.
    """
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and ASCII_INT.fullmatch(value):  # "²".isdigit() is true, int("²") raises
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, c) for c in candidates)


def backoff_delay(
    failures: int,
    base: float,
    maximum: float,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the ``failures``-th failed attempt (1 = the first).

    ``base * 2**(failures-1)`` capped at ``maximum``, scaled by a jitter factor in
    [0.5, 1) so instances retrying together spread out. A receiver's Retry-After wins
    when it asks for longer, up to ``maximum``.
    """
    raw = min(maximum, base * 2 ** min(max(failures - 1, 0), 62))
    delay = raw * (0.5 + rand() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, maximum))
    return delay


RETRY_AFTER_MAX = 86_400.0  # a day; the backoff cap bounds it further


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP date), at most a day.

    None if absent or invalid. Only ASCII digits count as delta-seconds: ``"²".isdigit()``
    and ``"٣".isdigit()`` are true, and such a header used to crash the attempt.
    """
    if not value:
        return None
    value = value.strip()
    if ASCII_INT.fullmatch(value):
        return min(float(value), RETRY_AFTER_MAX)
    if not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
