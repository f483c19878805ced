"""Sending events to ingest (``POST /v1/events``), and pacing a replay in wall-clock time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import httpx

from services.shared.events import DealEvent, encode_event

RETRY_STATUSES = frozenset({429, 502, 503, 504})
API_KEY_HEADER = "X-API-Key"


class IngestError(Exception):
    """Ingest did not take a batch."""


class IngestRefused(IngestError):
    """Ingest answered 4xx: the batch itself is wrong (or the key is); retrying won't help."""

    def __init__(self, status: int, detail: object):
        super().__init__(f"ingest refused the batch ({status}): {detail}")
        self.status, self.detail = status, detail

    @property
    def is_auth(self) -> bool:
        return self.status in (401, 403)


class IngestUnavailable(IngestError):
    """Ingest was unreachable or kept answering 5xx after every retry."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for 503, 429, gateway errors and connection errors."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after and retry_after.strip().isascii() and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay)
        return min(self.base_delay * 2 ** (attempt - 1), self.max_delay)


class IngestClient:
    """Posts batches of canonical events to ingest; one instance per run."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        headers = {"Content-Type": "application/json", "User-Agent": "pr-import"}
        if api_key:
            headers[API_KEY_HEADER] = api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)
        self._retry = retry
        self._sleep = sleep
        self.retries = 0

    def send(self, events: Sequence[DealEvent]) -> int:
        """Post one batch; the number of events ingest accepted (after Kafka acked them)."""
        body = b"[" + b",".join(encode_event(e) for e in events) + b"]"
        last_problem = "no attempt made"
        for attempt in range(1, self._retry.attempts + 1):
            retry_after = None
            try:
                response = self._http.post("/v1/events", content=body)
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return _accepted(response, len(events))
                if response.status_code not in RETRY_STATUSES and response.status_code < 500:
                    raise IngestRefused(response.status_code, _detail(response))
                last_problem = f"HTTP {response.status_code}: {_detail(response)}"
                retry_after = response.headers.get("Retry-After")
            if attempt < self._retry.attempts:
                self.retries += 1
                self._sleep(self._retry.delay(attempt, retry_after))
        attempts = self._retry.attempts
        raise IngestUnavailable(f"ingest at {self._http.base_url} failed {attempts} times; last: {last_problem}")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IngestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _accepted(response: httpx.Response, sent: int) -> int:
    try:
        return int(response.json()["accepted"])
    except (ValueError, KeyError, TypeError):
        return sent  # a 2xx without a count still means every event was acknowledged


def _detail(response: httpx.Response) -> object:
    try:
        return response.json().get("detail", response.text[:500])
    except (ValueError, AttributeError):
        return response.text[:500] or response.reason_phrase


def paced_batches(
    events: Iterable[DealEvent],
    size: int,
    *,
    speed: float = 0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[list[DealEvent]]:
    """Batches of at most ``size`` events; with ``speed`` > 0, each event is released when
    ``speed`` times real time has passed since the first (``speed`` 3600: an hour a second)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[DealEvent] = []
    start = 0.0  # the clock at the first event, set with first_at
    first_at = None
    for event in events:
        if speed > 0:
            if first_at is None:
                first_at, start = event.occurred_at, clock()
            due = start + (event.occurred_at - first_at).total_seconds() / speed
            if due > clock():
                if batch:
                    yield batch
                    batch = []
                wait = due - clock()
                if wait > 0:
                    sleep(wait)
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
