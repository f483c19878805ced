"""The delivery service: reads the alert stream, queues a job per matching subscription, delivers and retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from redis.exceptions import RedisError, ResponseError

from services.shared import tracing
from services.shared.keys import RedisKeys
from services.shared.redis_client import as_text

from ..alerts import decode_entry
from .guard import GuardedTransport, Resolver, refused, system_resolve
from .rules import (
    ADDRESS_REFUSED,
    ALERT_ID_HEADER,
    ATTEMPT_HEADER,
    CONNECTION_FAILED,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMEOUT,
    USER_AGENT,
    Outcome,
    Subscription,
    backoff_delay,
    host_of,
    parse_retry_after,
    render_body,
    sign,
)
from .settings import WebhookSettings
from .store import DEAD_LETTERS_KEPT, WebhookStore

log = logging.getLogger("services.review.webhooks")


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

    def __init__(
        self,
        redis,
        keys: RedisKeys,
        settings: WebhookSettings | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        consumer: str | None = None,
        resolver: Resolver = system_resolve,
    ):
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
        # Told each attempt's outcome (delivered, failed: retried later, dead: the last attempt failed).
        self.on_outcome: Callable[[str], None] = lambda outcome: None

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
            transport = GuardedTransport(
                self.settings.allowed_networks,
                self._resolver,
                limits=httpx.Limits(max_connections=self.settings.concurrency),
            )
            self._http = httpx.AsyncClient(
                transport=transport, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
            )
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
            pending = await self.redis.xpending_range(
                self.stream, self.settings.consumer_group, min="-", max="+", count=1, consumername=self.consumer
            )
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
            reply = await self.redis.xautoclaim(
                self.stream,
                self.settings.consumer_group,
                self.consumer,
                min_idle_time=int(self.settings.claim_idle * 1000),
                start_id=start,
                count=100,
            )
            start, entries = as_text(reply[0]), reply[1]
            await self._handle([e for e in entries if e and e[1] is not None])
            if start == "0-0":
                return

    async def _handle(self, entries: list) -> None:
        if not entries:
            return
        subs = await self.store.all()
        now = self.clock()
        for entry_id, fields in entries:
            alert = decode_entry(fields)
            # Never sent to a receiver: the trace context goes in the job and, traced, in a header.
            trace = alert.pop(tracing.TRACE_FIELD, None) if alert is not None else None
            args: list[Any] = [self.settings.consumer_group, entry_id, now]
            if alert is None:
                log.warning("alert stream entry %s has no readable alert; acknowledged and skipped", as_text(entry_id))
            else:
                for sub in subs:
                    if sub.filter.matches(alert):
                        job = {"subscription_id": sub.id, "alert": alert, "attempts": 0, "first_at": now}
                        if trace is not None:
                            job["trace"] = trace
                        args += [f"{sub.id}:{alert.get('alert_id') or as_text(entry_id)}", json.dumps(job)]
            await self._enqueue(keys=[self.keys.webhook_jobs(), self.keys.webhook_due(), self.stream], args=args)
        self._wake.set()

    # -- delivering due jobs ------------------------------------------------------------

    async def _dispatch_loop(self, stop_event: asyncio.Event) -> None:
        while not stop_event.is_set():
            wait = self.settings.poll_interval
            try:
                now = self.clock()
                lease = now + self.settings.timeout + 30
                await self._move_due(keys=[self.keys.webhook_inflight(), self.keys.webhook_due()], args=[now, now, 100])
                free = self.settings.concurrency - len(self._tasks)
                if free > 0:
                    ids = [
                        as_text(i)
                        for i in await self._move_due(
                            keys=[self.keys.webhook_due(), self.keys.webhook_inflight()], args=[now, lease, free]
                        )
                    ]
                    if ids:
                        for job_id, raw in zip(ids, await self.redis.hmget(self.keys.webhook_jobs(), ids)):
                            self._spawn(job_id, raw)
                    nxt = await self.redis.zrange(self.keys.webhook_due(), 0, 0, withscores=True)
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
                await self.redis.zrem(self.keys.webhook_inflight(), job_id)
                return
            job = json.loads(raw)
            sub = await self.store.get(job["subscription_id"])
            if sub is None:  # unsubscribed meanwhile
                await self._forget(job_id)
                return
            attempt = int(job["attempts"]) + 1
            span = tracing.start_delivery_span(
                "deliver alert webhook",
                job.get("trace"),
                {"alert_id": str(job["alert"].get("alert_id", "")), "webhook.id": sub.id, "webhook.attempt": attempt},
            )
            outcome = await self.attempt(sub, job["alert"], attempt, span)
            if span is not None:
                span.set_attribute("webhook.outcome", "delivered" if outcome.ok else outcome.error or "failed")
                span.end()
            await self._record(job_id, job, sub, attempt, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease brings the job back; keep the service alive
            log.exception("webhook delivery %s failed unexpectedly", job_id)

    async def attempt(self, sub: Subscription, alert: dict[str, Any], attempt: int = 1, span=None) -> Outcome:
        """POST one alert to one subscription once, signed; never raises for HTTP trouble.

        With a delivery ``span`` (tracing on) the request carries its ``traceparent``."""
        assert self._http is not None
        body = render_body(sub.format, sub.id, alert)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(sub.secret, int(self.clock()), body),
            ALERT_ID_HEADER: str(alert.get("alert_id", "")),
            DELIVERY_HEADER: uuid.uuid4().hex,
            ATTEMPT_HEADER: str(attempt),
        }
        if span is not None:
            headers.update(tracing.carrier(tracing.link_context(span)))
        try:
            # The overall deadline also bounds a receiver that trickles its answer.
            async with asyncio.timeout(self.settings.timeout):
                async with self._http.stream(
                    "POST", sub.url, content=body, headers=headers, timeout=self.settings.timeout
                ) as response:
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
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).isoformat()
        stats = self.keys.webhook_stats(sub.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.webhook_inflight(), job_id)
            if outcome.ok:
                pipe.hdel(self.keys.webhook_jobs(), job_id)
                pipe.hincrby(stats, "delivered", 1)
                pipe.hset(
                    stats,
                    mapping={"last_status": outcome.status or "", "last_success_at": stamp, "last_attempt_at": stamp},
                )
            else:
                pipe.hincrby(stats, "failed_attempts", 1)
                pipe.hset(
                    stats,
                    mapping={
                        "last_status": outcome.status or "",
                        "last_error": outcome.error or "",
                        "last_failure_at": stamp,
                        "last_attempt_at": stamp,
                    },
                )
                if attempt >= self.settings.max_attempts:
                    record = {
                        "subscription_id": sub.id,
                        "url": sub.url,
                        "alert": job["alert"],
                        "attempts": attempt,
                        "last_error": outcome.error,
                        "last_status": outcome.status,
                        "first_attempt_at": dt.datetime.fromtimestamp(job["first_at"], dt.UTC).isoformat(),
                        "dead_at": stamp,
                    }
                    pipe.hdel(self.keys.webhook_jobs(), job_id)
                    pipe.xadd(
                        self.keys.webhook_dead_letters(sub.id),
                        {"record": json.dumps(record)},
                        maxlen=DEAD_LETTERS_KEPT,
                        approximate=True,
                    )
                    pipe.hincrby(stats, "dead_letters", 1)
                else:
                    delay = backoff_delay(
                        attempt,
                        self.settings.backoff_base,
                        self.settings.backoff_max,
                        retry_after=outcome.retry_after,
                        rand=self.rand,
                    )
                    pipe.hset(
                        self.keys.webhook_jobs(),
                        job_id,
                        json.dumps(job | {"attempts": attempt, "last_error": outcome.error}),
                    )
                    pipe.zadd(self.keys.webhook_due(), {job_id: now + delay})
            await pipe.execute()
        self.on_outcome("delivered" if outcome.ok else "dead" if attempt >= self.settings.max_attempts else "failed")
        if not outcome.ok:
            # The host only: a full URL (a Slack one, say) is itself a secret.
            log.info("webhook %s to %s attempt %d failed: %s", job_id, host_of(sub.url), attempt, outcome.error)

    async def _forget(self, job_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.webhook_inflight(), job_id)
            pipe.hdel(self.keys.webhook_jobs(), job_id)
            await pipe.execute()


async def _sleep_or_stop(stop_event: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop_event.wait()
    except TimeoutError:
        pass
