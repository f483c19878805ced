import datetime as dt
import json

import httpx
import pytest

from services.ingest.csv_import.sender import (
    IngestClient,
    IngestRefused,
    IngestUnavailable,
    RetryPolicy,
    paced_batches,
)
from services.shared.events import DealChanges, DealEvent

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def event(n: int, at: dt.datetime = T0) -> DealEvent:
    return DealEvent(
        event_id=f"csv:D{n}:created",
        source="csv",
        deal_id=f"csv:D{n}",
        occurred_at=at,
        type="deal.created",
        changes=DealChanges(name=f"deal {n}", stage="Prospecting"),
    )


def client(handler, sleeps: list[float] | None = None, **kwargs) -> IngestClient:
    sleeps = sleeps if sleeps is not None else []
    return IngestClient("http://ingest.test/", transport=httpx.MockTransport(handler), sleep=sleeps.append, **kwargs)


def test_a_batch_is_posted_as_a_json_array_of_canonical_events():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"accepted": len(json.loads(request.content))})

    with client(handler, api_key="s3cret") as c:
        assert c.send([event(1), event(2)]) == 2
    (request,) = seen
    assert request.method == "POST" and request.url == "http://ingest.test/v1/events"
    assert request.headers["X-API-Key"] == "s3cret"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert [e["event_id"] for e in body] == ["csv:D1:created", "csv:D2:created"]
    assert body[0]["changes"] == {"name": "deal 1", "stage": "Prospecting"}  # unset fields stay absent
    assert body[0]["schema_version"] == 1


def test_503_and_connection_errors_are_retried_with_backoff():
    answers = iter(["down", 503, 503])
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers, 202)
        if answer == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if answer == 503:
            return httpx.Response(503, json={"detail": "Kafka unavailable"})
        return httpx.Response(202, json={"accepted": 1})

    c = client(handler, sleeps)
    assert c.send([event(1)]) == 1
    assert c.retries == 3
    assert sleeps == [0.5, 1.0, 2.0]


def test_retries_are_bounded():
    sleeps: list[float] = []
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(503, json={"detail": "Kafka unavailable"})

    c = client(handler, sleeps, retry=RetryPolicy(attempts=4, base_delay=1, max_delay=3))
    with pytest.raises(IngestUnavailable, match="failed 4 times; last: HTTP 503: Kafka unavailable"):
        c.send([event(1)])
    assert len(calls) == 4
    assert sleeps == [1, 2, 3]


def test_retry_after_is_honoured():
    sleeps: list[float] = []
    answers = iter([httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(202, json={"accepted": 1})])
    c = client(lambda request: next(answers), sleeps)
    c.send([event(1)])
    assert sleeps == [2.0]


def test_bad_input_is_not_retried_and_keeps_the_detail():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(422, json={"detail": "events[3].changes.amount: must be >= 0"})

    with pytest.raises(IngestRefused) as refused:
        client(handler).send([event(1)])
    assert refused.value.status == 422
    assert "events[3].changes.amount" in str(refused.value)
    assert not refused.value.is_auth
    assert len(calls) == 1


def test_paced_batches_without_speed_only_cut_by_size():
    sleeps: list[float] = []
    batches = list(paced_batches([event(n) for n in range(7)], 3, sleep=sleeps.append))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sleeps == []
    with pytest.raises(ValueError):
        list(paced_batches([], 0))


def test_paced_batches_compress_time():
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    hour = dt.timedelta(hours=1)
    events = [event(0), event(1), event(2, T0 + hour), event(3, T0 + 3 * hour)]
    batches = list(paced_batches(events, 10, speed=3600, clock=lambda: now[0], sleep=sleep))
    # an hour of data per second: released at 0 s, 1 s and 3 s
    assert [[e.deal_id for e in b] for b in batches] == [["csv:D0", "csv:D1"], ["csv:D2"], ["csv:D3"]]
    assert sleeps == [1.0, 2.0]


def test_a_retry_after_of_non_ascii_digits_falls_back_to_backoff():
    # "²".isdigit() is true but float("²") raises: the client must not crash on it.
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    assert policy.delay(2, "²") == 1.0
    assert policy.delay(2, "3") == 3.0
