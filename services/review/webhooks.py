"""Outgoing webhooks for alerts: subscriptions, signatures and the delivery service.

The module has three layers, kept apart so the rules can be tested without I/O:

1. pure logic: the subscription filter, the request bodies (JSON and Slack), the
   signature (:func:`sign`, :func:`verify_signature`) and the retry schedule;
2. :class:`WebhookStore`: subscriptions, delivery stats and dead letters in Redis;
3. :class:`WebhookDispatcher`: the background service. It reads the alert stream
   (``<prefix>:alerts``) through a consumer group, turns every (alert, matching
   subscription) pair into a delivery job in a Redis sorted set of due jobs, and
   delivers due jobs with bounded concurrency. A failed attempt is rescheduled in that
   set, so retries never hold up other deliveries, and every review instance can take
   any job. After the last attempt the job becomes a dead letter.

Redis layout (``p`` = the common key prefix), see :class:`WebhookKeys`.
Delivery is at least once: receivers deduplicate on ``X-PipelineReview-Alert-Id``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from services.shared.alert_kinds import MOVEMENT_KINDS, AlertKind

from . import alert_text
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError, ResponseError

from services.shared.keys import RedisKeys

from .webhook_guard import GuardedTransport, Network, Resolver, parse_networks, refused, system_resolve

log = logging.getLogger("services.review.webhooks")

SIGNATURE_HEADER = "X-PipelineReview-Signature"
ALERT_ID_HEADER = "X-PipelineReview-Alert-Id"
DELIVERY_HEADER = "X-PipelineReview-Delivery"
ATTEMPT_HEADER = "X-PipelineReview-Attempt"
USER_AGENT = "PipelineReview-Webhooks/1"

Severity = Literal["info", "low", "medium", "high"]
Format = Literal["json", "slack"]
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}
DEAD_LETTERS_KEPT = 1000  # per subscription; older ones are trimmed
ASCII_INT = re.compile(r"[0-9]{1,18}", re.ASCII)  # str.isdigit() also takes "²" and "٣"


class WebhookSettings(BaseSettings):
    """Outgoing webhook delivery (prefix ``PR_REVIEW_WEBHOOK_``)."""

    model_config = SettingsConfigDict(env_prefix="PR_REVIEW_WEBHOOK_", extra="ignore")

    enabled: bool = Field(True, description="Run the webhook delivery service in review.")
    max_attempts: int = Field(8, ge=1, le=50, description="Delivery attempts per alert and subscription, the first included.")
    backoff_base: float = Field(2.0, gt=0, description="Delay (s) before the first retry; doubles per failure.")
    backoff_max: float = Field(600.0, gt=0, description="Longest delay (s) between attempts, Retry-After included.")
    timeout: float = Field(10.0, gt=0, description="Longest time (s) one delivery attempt may take.")
    concurrency: int = Field(32, ge=1, le=1000, description="Most deliveries in flight per review instance.")
    consumer_group: str = Field("pr-webhooks", min_length=1, description="Redis consumer group reading the alert stream.")
    claim_idle: float = Field(60.0, gt=0, description="Alerts unacknowledged this long (s) by a dead instance are taken over.")
    poll_interval: float = Field(1.0, gt=0, le=30, description="Longest wait (s) between checks for new alerts and due retries.")
    allow_nets: str | None = Field(
        None, description="CIDR networks webhooks may reach although they are not public "
                          "(loopback, private, ...), comma separated, e.g. `10.20.0.0/16,fd00:1::/64`.")
    max_per_caller: int = Field(25, ge=1, le=10_000, description="Most subscriptions one caller (API key name) may hold; "
                                                                  "one more is a 409.")

    @field_validator("allow_nets")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        parse_networks(value)  # refuse a typo at start rather than at the first delivery
        return value

    @property
    def allowed_networks(self) -> tuple[Network, ...]:
        """``allow_nets`` parsed."""
        return parse_networks(self.allow_nets)


@dataclass(frozen=True)
class WebhookKeys:
    """Redis keys of the webhooks, under the common prefix.

    - ``p:webhooks:subs`` hash id -> subscription JSON (the secret included);
    - ``p:webhooks:stats:<id>`` hash of delivery counters and last outcome;
    - ``p:webhooks:dead:<id>`` stream of dead letters (newest last, capped);
    - ``p:webhooks:jobs`` hash job id -> pending delivery job JSON;
    - ``p:webhooks:due`` sorted set job id -> when the next attempt is due (unix s);
    - ``p:webhooks:inflight`` sorted set job id -> lease deadline of the attempt under way.
    """

    prefix: str = "pr"

    def subscriptions(self) -> str:
        return f"{self.prefix}:webhooks:subs"

    def stats(self, subscription_id: str) -> str:
        return f"{self.prefix}:webhooks:stats:{subscription_id}"

    def dead_letters(self, subscription_id: str) -> str:
        return f"{self.prefix}:webhooks:dead:{subscription_id}"

    def jobs(self) -> str:
        return f"{self.prefix}:webhooks:jobs"

    def due(self) -> str:
        return f"{self.prefix}:webhooks:due"

    def inflight(self) -> str:
        return f"{self.prefix}:webhooks:inflight"


# ---------------------------------------------------------------------------------------
# Pure logic
# ---------------------------------------------------------------------------------------


class WebhookFilter(BaseModel):
    """Which alerts a subscription receives; every condition given must hold."""

    model_config = ConfigDict(extra="forbid")

    teams: list[str] | None = Field(None, min_length=1, max_length=100, description="Only these teams; null = all teams.")
    manager_id: str | None = Field(None, max_length=200, description="Only deals of this manager id.")
    kinds: list[AlertKind] = Field(
        default_factory=lambda: ["late_stage_discount"], min_length=1,
        description="Alert kinds; add discount_info for discounts on early and mid deals, and close_date_pushed, "
                    "qualification_gap or stalled for pipeline movement.",
    )
    min_severity: Severity | None = Field(None, description="Only alerts at least this severe (info < low < medium < high).")
    min_value_at_risk: float | None = Field(None, ge=0, description="Only alerts with at least this value at risk.")


def matches(flt: WebhookFilter, alert: dict[str, Any]) -> bool:
    """True when ``alert`` passes every condition of ``flt``."""
    if alert.get("kind") not in flt.kinds:
        return False
    if flt.teams is not None and alert.get("team") not in flt.teams:
        return False
    if flt.manager_id is not None and alert.get("manager_id") != flt.manager_id:
        return False
    if flt.min_severity is not None and SEVERITY_RANK.get(alert.get("severity"), -1) < SEVERITY_RANK[flt.min_severity]:
        return False
    if flt.min_value_at_risk is not None and float(alert.get("value_at_risk") or 0) < flt.min_value_at_risk:
        return False
    return True


def validate_webhook_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host and no user info; ValueError otherwise.

    Where the host points is checked separately (``webhook_guard.check_url``): that needs DNS.
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
                "text": _short(f"*{deal}*" + (f" · {account}" if account else "")
                               + f"\n{who} asked for {pct} off: *{at_risk}* at risk.", 3000),
            },
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _short(f"*{k}*\n{v}", 2000)} for k, v in fields]},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _short(
                f"deal {_slack_escape(alert.get('deal_id'))} · alert {_slack_escape(alert.get('alert_id'))}"
                f" · {_slack_escape(alert.get('occurred_at'))}", 3000)}],
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


def verify_signature(secret: str, header: str | None, body: bytes, *, tolerance: float = 300.0,
                     now: float | None = None) -> bool:
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


def backoff_delay(failures: int, base: float, maximum: float, *, retry_after: float | None = None,
                  rand: Callable[[], float] = random.random) -> float:
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
            when = when.replace(tzinfo=dt.timezone.utc)
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


# ---------------------------------------------------------------------------------------
# Redis storage
# ---------------------------------------------------------------------------------------


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def utc_now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
_COUNTERS = ("delivered", "failed_attempts", "dead_letters")


# Stores ARGV[2] under id ARGV[1] unless ARGV[4] subscriptions already have created_by ==
# ARGV[3] ("" for none); counting and storing in one step, so concurrent requests cannot
# both slip under the cap. Returns 1 when stored.
_CREATE_CAPPED = """
local owner, held = ARGV[3], 0
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, sub = pcall(cjson.decode, raw)
  if ok and type(sub) == 'table' then
    local by = sub['created_by']
    if type(by) ~= 'string' then by = '' end
    if by == owner then held = held + 1 end
  end
end
if held >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class TooManySubscriptions(Exception):
    """The caller already holds the most subscriptions allowed."""


class WebhookStore:
    """Subscriptions, their delivery stats and dead letters in Redis."""

    def __init__(self, redis, keys: RedisKeys):
        self.redis = redis
        self.keys = WebhookKeys(keys.prefix)
        self._create_capped = redis.register_script(_CREATE_CAPPED)

    async def create(self, url: str, fmt: Format, flt: WebhookFilter, description: str | None = None,
                     created_by: str | None = None, *, max_per_caller: int | None = None) -> Subscription:
        """Store a new subscription with a fresh id and secret.

        With ``max_per_caller``, raises TooManySubscriptions when ``created_by`` already
        holds that many.
        """
        sub = Subscription(
            id=f"wh-{uuid.uuid4().hex[:16]}", url=url, format=fmt, filter=flt, description=description,
            created_by=created_by, created_at=utc_now_iso(), secret=f"whsec_{secrets.token_urlsafe(32)}",
        )
        if max_per_caller is None:
            await self.redis.hset(self.keys.subscriptions(), sub.id, sub.model_dump_json())
        elif not await self._create_capped(keys=[self.keys.subscriptions()],
                                           args=[sub.id, sub.model_dump_json(), created_by or "", max_per_caller]):
            raise TooManySubscriptions(max_per_caller)
        return sub

    async def get(self, subscription_id: str) -> Subscription | None:
        raw = await self.redis.hget(self.keys.subscriptions(), subscription_id)
        return Subscription.model_validate_json(raw) if raw is not None else None

    async def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        raw = await self.redis.hgetall(self.keys.subscriptions())
        subs = []
        for value in raw.values():
            try:
                subs.append(Subscription.model_validate_json(value))
            except ValueError:
                log.warning("skipping an unreadable webhook subscription")
        return sorted(subs, key=lambda s: (s.created_at, s.id))

    async def delete(self, subscription_id: str) -> bool:
        """Remove the subscription, its stats and dead letters; pending jobs are dropped when due."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.subscriptions(), subscription_id)
            pipe.delete(self.keys.stats(subscription_id), self.keys.dead_letters(subscription_id))
            removed, _ = await pipe.execute()
        return bool(removed)

    async def stats(self, subscription_id: str) -> dict[str, Any]:
        """Delivery counters and the last outcome of a subscription."""
        raw = {_text(k): _text(v) for k, v in (await self.redis.hgetall(self.keys.stats(subscription_id))).items()}
        out: dict[str, Any] = {name: int(raw.pop(name, 0)) for name in _COUNTERS}
        if "last_status" in raw:
            raw["last_status"] = int(raw["last_status"]) if raw["last_status"] else None
        if "last_error" in raw:
            raw["last_error"] = generic_error(raw["last_error"]) if raw["last_error"] else None
        return out | raw

    async def dead_letters(self, subscription_id: str, limit: int = 50,
                           cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Dead letters newest first, and the cursor of the next page (None on the last)."""
        if cursor is not None and not STREAM_ID.match(cursor):
            raise ValueError("cursor: not a cursor returned by this API")
        top = f"({cursor}" if cursor else "+"
        rows = await self.redis.xrevrange(self.keys.dead_letters(subscription_id), max=top, min="-", count=limit + 1)
        items = []
        for entry_id, fields in rows[:limit]:
            record = json.loads(fields.get(b"record") or fields.get("record"))
            if record.get("last_error"):
                record["last_error"] = generic_error(record["last_error"])
            items.append({"id": _text(entry_id)} | record)
        next_cursor = items[-1]["id"] if len(rows) > limit else None
        return items, next_cursor


# ---------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------

# Moves up to ARGV[3] members scored <= ARGV[1] from KEYS[1] to KEYS[2] with score ARGV[2],
# atomically, so exactly one instance takes each due job (and expired leases come back).
_MOVE_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[2], id)
end
return ids
"""

# Enqueues the jobs of one stream entry and acknowledges it in one step: an entry is
# acknowledged exactly when its jobs exist. HSETNX keeps a job already under way untouched
# when the same entry is handled twice (taken over from a slow instance).
_ENQUEUE_AND_ACK = """
for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[i])
  end
end
return redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
"""


class WebhookDispatcher:
    """Delivers alerts from the alert stream to matching subscriptions.

    Use ``await start()`` / ``await stop()`` from an app lifespan, or ``await run(stop_event)``.
    Several instances (one per review process) share the work through the consumer group
    and the due-jobs set.
    """

    def __init__(self, redis, keys: RedisKeys, settings: WebhookSettings | None = None, *,
                 http: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random, consumer: str | None = None,
                 resolver: Resolver = system_resolve):
        """``http`` replaces the guarded client (it then decides where connections go);
        ``resolver`` replaces DNS in the guard (tests)."""
        self.redis = redis
        self.settings = settings or WebhookSettings()
        self.stream = keys.alerts_stream()
        self.store = WebhookStore(redis, keys)
        self.keys = self.store.keys
        self.clock = clock
        self.rand = rand
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._http = http
        self._own_http = http is None
        self._resolver = resolver
        self._move_due = redis.register_script(_MOVE_DUE)
        self._enqueue = redis.register_script(_ENQUEUE_AND_ACK)
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._runner: asyncio.Task | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Create the consumer group and run in a background task until :meth:`stop`.

        Never fails because Redis is down: the service keeps retrying in the background.
        """
        try:
            await self.ensure_group()
        except (RedisError, OSError) as exc:
            log.warning("webhooks: cannot create the consumer group yet (%s); retrying in the background", exc)
        self._stop = asyncio.Event()
        self._runner = asyncio.create_task(self.run(self._stop), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Stop reading, let attempts under way finish (bounded by the timeout), release the group."""
        if self._runner is None or self._stop is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(self._runner, self.settings.timeout + self.settings.poll_interval + 5)
        except TimeoutError:
            log.warning("webhook dispatcher did not stop in time; cancelled")
        finally:
            self._runner = None

    async def run(self, stop_event: asyncio.Event) -> None:
        """Read alerts and deliver them until ``stop_event`` is set."""
        if self._http is None:
            # Every connection goes through the address guard; redirects are not followed
            # (a 3xx could point anywhere) and no proxy from the environment is used.
            transport = GuardedTransport(self.settings.allowed_networks, self._resolver,
                                         limits=httpx.Limits(max_connections=self.settings.concurrency))
            self._http = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False,
                                           headers={"User-Agent": USER_AGENT})
        await self._join_group(stop_event)
        waker = asyncio.create_task(self._wake_on(stop_event))
        try:
            await asyncio.gather(self._read_loop(stop_event), self._dispatch_loop(stop_event))
        finally:
            waker.cancel()
            await self._drain()
            await self._leave_group()
            if self._own_http and self._http is not None:
                await self._http.aclose()
                self._http = None

    async def ensure_group(self) -> None:
        """Create the consumer group at the stream's end (only alerts raised from now on)."""
        try:
            await self.redis.xgroup_create(self.stream, self.settings.consumer_group, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _join_group(self, stop_event: asyncio.Event) -> None:
        while not stop_event.is_set():
            try:
                await self.ensure_group()
                return
            except (RedisError, OSError) as exc:
                log.warning("webhooks: cannot create the consumer group (%s); retrying", exc)
                await _sleep_or_stop(stop_event, self.settings.poll_interval)

    async def _wake_on(self, stop_event: asyncio.Event) -> None:
        await stop_event.wait()
        self._wake.set()

    async def _drain(self) -> None:
        # Attempts under way end on their own within the timeout; whatever is still running
        # after that is cancelled and its lease brings the job back to another instance.
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.settings.timeout + 1)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)

    async def _leave_group(self) -> None:
        # A consumer with nothing pending can go; one with pending entries stays so that
        # XAUTOCLAIM can hand them over (deleting it would lose them).
        try:
            pending = await self.redis.xpending_range(self.stream, self.settings.consumer_group, min="-", max="+",
                                                      count=1, consumername=self.consumer)
            if not pending:
                await self.redis.xgroup_delconsumer(self.stream, self.settings.consumer_group, self.consumer)
        except RedisError as exc:
            log.warning("could not leave the webhook consumer group: %s", exc)

    # -- reading the alert stream -------------------------------------------------------

    async def _read_loop(self, stop_event: asyncio.Event) -> None:
        group = self.settings.consumer_group
        block_ms = max(1, int(self.settings.poll_interval * 1000))
        last_claim = float("-inf")
        while not stop_event.is_set():
            try:
                if time.monotonic() - last_claim >= self.settings.claim_idle / 2:
                    last_claim = time.monotonic()
                    await self._claim_stale()
                reply = await self.redis.xreadgroup(group, self.consumer, {self.stream: ">"}, count=100, block=block_ms)
                for _stream, entries in reply or []:
                    await self._handle(entries)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # the stream or group was deleted under us
                    await self._join_group(stop_event)
                else:
                    log.warning("webhook reader: %s", exc)
                    await _sleep_or_stop(stop_event, self.settings.poll_interval)
            except (RedisError, OSError) as exc:
                log.warning("webhook reader: %s", exc)
                await _sleep_or_stop(stop_event, self.settings.poll_interval)
            except Exception:  # noqa: BLE001 - a bug must not end delivery for good; pace the retries
                log.exception("webhook reader failed")
                await _sleep_or_stop(stop_event, self.settings.poll_interval)

    async def _claim_stale(self) -> None:
        """Take over entries another (crashed) instance read but never acknowledged."""
        start = "0-0"
        for _ in range(100):  # bounded: at most 10 000 entries per pass
            reply = await self.redis.xautoclaim(self.stream, self.settings.consumer_group, self.consumer,
                                                min_idle_time=int(self.settings.claim_idle * 1000),
                                                start_id=start, count=100)
            start, entries = _text(reply[0]), reply[1]
            await self._handle([e for e in entries if e and e[1] is not None])
            if start == "0-0":
                return

    async def _handle(self, entries: list) -> None:
        if not entries:
            return
        subs = await self.store.all()
        now = self.clock()
        for entry_id, fields in entries:
            alert = _alert_of(fields)
            args: list[Any] = [self.settings.consumer_group, entry_id, now]
            if alert is None:
                log.warning("alert stream entry %s has no readable alert; acknowledged and skipped", _text(entry_id))
            else:
                for sub in subs:
                    if matches(sub.filter, alert):
                        job = {"subscription_id": sub.id, "alert": alert, "attempts": 0, "first_at": now}
                        args += [f"{sub.id}:{alert.get('alert_id') or _text(entry_id)}", json.dumps(job)]
            await self._enqueue(keys=[self.keys.jobs(), self.keys.due(), self.stream], args=args)
        self._wake.set()

    # -- delivering due jobs ------------------------------------------------------------

    async def _dispatch_loop(self, stop_event: asyncio.Event) -> None:
        while not stop_event.is_set():
            wait = self.settings.poll_interval
            try:
                now = self.clock()
                lease = now + self.settings.timeout + 30
                await self._move_due(keys=[self.keys.inflight(), self.keys.due()], args=[now, now, 100])
                free = self.settings.concurrency - len(self._tasks)
                if free > 0:
                    ids = [_text(i) for i in await self._move_due(keys=[self.keys.due(), self.keys.inflight()],
                                                                  args=[now, lease, free])]
                    if ids:
                        for job_id, raw in zip(ids, await self.redis.hmget(self.keys.jobs(), ids)):
                            self._spawn(job_id, raw)
                    nxt = await self.redis.zrange(self.keys.due(), 0, 0, withscores=True)
                    if nxt:
                        wait = min(wait, max(0.0, nxt[0][1] - self.clock()))
            except (RedisError, OSError) as exc:
                log.warning("webhook dispatcher: %s", exc)
            except Exception:  # noqa: BLE001 - a bug must not end delivery for good; pace the retries
                log.exception("webhook dispatcher failed")
            if wait > 0:
                await self._nap(wait)

    async def _nap(self, seconds: float) -> None:
        # Woken early by new jobs, a finished delivery (a free slot) or stop.
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _spawn(self, job_id: str, raw: bytes | str | None) -> None:
        task = asyncio.create_task(self._deliver(job_id, raw))
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            self._wake.set()

        task.add_done_callback(done)

    async def _deliver(self, job_id: str, raw: bytes | str | None) -> None:
        try:
            if raw is None:  # finished elsewhere after its lease ran out
                await self.redis.zrem(self.keys.inflight(), job_id)
                return
            job = json.loads(raw)
            sub = await self.store.get(job["subscription_id"])
            if sub is None:  # unsubscribed meanwhile
                await self._forget(job_id)
                return
            attempt = int(job["attempts"]) + 1
            outcome = await self.attempt(sub, job["alert"], attempt)
            await self._record(job_id, job, sub, attempt, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease brings the job back; keep the service alive
            log.exception("webhook delivery %s failed unexpectedly", job_id)

    async def attempt(self, sub: Subscription, alert: dict[str, Any], attempt: int = 1) -> Outcome:
        """POST one alert to one subscription once, signed; never raises for HTTP trouble."""
        assert self._http is not None
        body = render_body(sub.format, sub.id, alert)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(sub.secret, int(self.clock()), body),
            ALERT_ID_HEADER: str(alert.get("alert_id", "")),
            DELIVERY_HEADER: uuid.uuid4().hex,
            ATTEMPT_HEADER: str(attempt),
        }
        try:
            # The overall deadline also bounds a receiver that trickles its answer.
            async with asyncio.timeout(self.settings.timeout):
                async with self._http.stream("POST", sub.url, content=body, headers=headers,
                                             timeout=self.settings.timeout) as response:
                    status, retry_after = response.status_code, response.headers.get("retry-after")
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, error=TIMEOUT)
        except httpx.HTTPError as exc:
            if refused(exc):
                log.warning("webhook %s to %s refused: %s", sub.id, host_of(sub.url), exc)
                return Outcome(False, error=ADDRESS_REFUSED)
            log.info("webhook %s to %s: %s", sub.id, host_of(sub.url), type(exc).__name__)
            return Outcome(False, error=CONNECTION_FAILED)
        except Exception:  # noqa: BLE001 - an attempt must end in an outcome, so the retry count applies
            log.exception("webhook %s to %s failed unexpectedly", sub.id, host_of(sub.url))
            return Outcome(False, error=CONNECTION_FAILED)
        if 200 <= status < 300:
            return Outcome(True, status)
        return Outcome(False, status, f"HTTP {status}", parse_retry_after(retry_after, self.clock()))

    async def _record(self, job_id: str, job: dict, sub: Subscription, attempt: int, outcome: Outcome) -> None:
        now = self.clock()
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat()
        stats = self.keys.stats(sub.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.inflight(), job_id)
            if outcome.ok:
                pipe.hdel(self.keys.jobs(), job_id)
                pipe.hincrby(stats, "delivered", 1)
                pipe.hset(stats, mapping={"last_status": outcome.status or "", "last_success_at": stamp,
                                          "last_attempt_at": stamp})
            else:
                pipe.hincrby(stats, "failed_attempts", 1)
                pipe.hset(stats, mapping={"last_status": outcome.status or "", "last_error": outcome.error or "",
                                          "last_failure_at": stamp, "last_attempt_at": stamp})
                if attempt >= self.settings.max_attempts:
                    record = {"subscription_id": sub.id, "url": sub.url, "alert": job["alert"], "attempts": attempt,
                              "last_error": outcome.error, "last_status": outcome.status,
                              "first_attempt_at": dt.datetime.fromtimestamp(job["first_at"], dt.timezone.utc).isoformat(),
                              "dead_at": stamp}
                    pipe.hdel(self.keys.jobs(), job_id)
                    pipe.xadd(self.keys.dead_letters(sub.id), {"record": json.dumps(record)},
                              maxlen=DEAD_LETTERS_KEPT, approximate=True)
                    pipe.hincrby(stats, "dead_letters", 1)
                else:
                    delay = backoff_delay(attempt, self.settings.backoff_base, self.settings.backoff_max,
                                          retry_after=outcome.retry_after, rand=self.rand)
                    pipe.hset(self.keys.jobs(), job_id, json.dumps(job | {"attempts": attempt,
                                                                           "last_error": outcome.error}))
                    pipe.zadd(self.keys.due(), {job_id: now + delay})
            await pipe.execute()
        if not outcome.ok:
            # The host only: a full URL (a Slack one, say) is itself a secret.
            log.info("webhook %s to %s attempt %d failed: %s", job_id, host_of(sub.url), attempt, outcome.error)

    async def _forget(self, job_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.inflight(), job_id)
            pipe.hdel(self.keys.jobs(), job_id)
            await pipe.execute()


def _alert_of(fields: dict | None) -> dict[str, Any] | None:
    if not fields:
        return None
    raw = fields.get(b"alert", fields.get("alert"))
    try:
        alert = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return alert if isinstance(alert, dict) else None


async def _sleep_or_stop(stop_event: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop_event.wait()
    except TimeoutError:
        pass
