"""The alert feed through a real review process: Kafka ingestion, restarts, SSE, WebSocket, slow clients."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.helpers import wait_until

from .conftest import SSEReader, append_direct, feed_ids, make_alert, produce

pytestmark = pytest.mark.integration

NO_FEED = {"PR_REVIEW_ALERT_FEED_ENABLED": "false"}


def test_feed_deduplicates_and_survives_a_review_restart(common_settings, review_process):
    service, base = review_process()
    first = [make_alert() for _ in range(3)]
    produce(common_settings, first + [first[1]])  # delivered twice: at-least-once
    expected = sorted(a["alert_id"] for a in first)
    wait_until(lambda: sorted(feed_ids(base)) == expected, timeout=30, what="the first three alerts, once each")
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["alert_feed"]["state"] == "running" and ready["alert_feed"]["duplicates"] == 1

    service.stop()
    later = [make_alert() for _ in range(3)]
    produce(common_settings, later + [first[2]])  # produced while review was down, plus a late duplicate
    _, base = review_process()
    expected = sorted(a["alert_id"] for a in first + later)
    ids = wait_until(
        lambda: (lambda got: got if sorted(got) == expected else None)(feed_ids(base)),
        timeout=30,
        what="all six alerts after the restart",
    )
    assert len(ids) == len(set(ids)) == 6
    # The first three keep their place: the restart appended, it did not rewrite.
    assert sorted(ids[:3]) == sorted(a["alert_id"] for a in first)


def test_two_review_instances_share_the_feed_without_duplicates(common_settings, review_process):
    _, base_a = review_process()
    _, base_b = review_process()
    alerts = [make_alert() for _ in range(12)]
    produce(common_settings, alerts + alerts[:4])
    expected = sorted(a["alert_id"] for a in alerts)
    wait_until(lambda: sorted(feed_ids(base_a)) == expected, timeout=40, what="12 alerts once each")
    assert feed_ids(base_a) == feed_ids(base_b)


def test_sse_resumes_with_last_event_id_without_gaps_or_duplicates(common_settings, review_process):
    _, base = review_process(**NO_FEED)
    before = [make_alert() for _ in range(3)]
    append_direct(common_settings, before)
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{base}/v1/alerts/stream", params={"cursor": "0"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SSEReader(response)
            got = reader.alerts(3)
            live = [make_alert() for _ in range(2)]
            append_direct(common_settings, live)
            got += reader.alerts(2)
        # Disconnected: these arrive while nobody listens.
        missed = [make_alert() for _ in range(3)]
        append_direct(common_settings, missed)
        last_id = got[-1]["cursor"]
        with client.stream("GET", f"{base}/v1/alerts/stream", headers={"Last-Event-ID": last_id}) as response:
            reader = SSEReader(response)
            got += reader.alerts(3)
            after = [make_alert() for _ in range(2)]
            append_direct(common_settings, after)
            got += reader.alerts(2)
    expected = [a["alert_id"] for a in before + live + missed + after]
    assert [item["alert_id"] for item in got] == expected
    cursors = [item["cursor"] for item in got]
    assert len(set(cursors)) == len(cursors) == 10


def test_sse_filters_and_manager_scope(common_settings, review_process):
    _, base = review_process(**NO_FEED, PR_REVIEW_API_KEYS="east-key-01:manager:East,admin-key-01:admin")
    east, west, east_info = (
        make_alert(team="East"),
        make_alert(team="West"),
        make_alert(team="East", kind="discount_info"),
    )
    append_direct(common_settings, [east, west, east_info])
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{base}/v1/alerts/stream").status_code == 401
        assert client.get(f"{base}/v1/alerts/stream", params={"api_key": "east-key-01"}).status_code == 401
        assert (
            client.get(
                f"{base}/v1/alerts/stream", params={"team": "West", "token": token(client, base, "east-key-01")}
            ).status_code
            == 403
        )
        # EventSource cannot set headers: a short-lived token from the key rides in the query string.
        with client.stream(
            "GET", f"{base}/v1/alerts/stream", params={"cursor": "0", "token": token(client, base, "east-key-01")}
        ) as response:
            reader = SSEReader(response)
            assert [i["alert_id"] for i in reader.alerts(2)] == [east["alert_id"], east_info["alert_id"]]
            later_west, later_east = make_alert(team="West"), make_alert(team="East")
            append_direct(common_settings, [later_west, later_east])
            assert reader.alerts(1)[0]["alert_id"] == later_east["alert_id"]
        with client.stream(
            "GET",
            f"{base}/v1/alerts/stream",
            params={"cursor": "0", "kind": "discount_info"},
            headers={"X-API-Key": "admin-key-01"},
        ) as response:
            reader = SSEReader(response)
            assert [i["alert_id"] for i in reader.alerts(1)] == [east_info["alert_id"]]


def token(client: httpx.Client, base: str, key: str) -> str:
    answer = client.post(f"{base}/v1/alerts/stream-token", headers={"X-API-Key": key})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def test_sse_heartbeat_is_seen_on_an_idle_stream(common_settings, review_process):
    _, base = review_process(**NO_FEED, PR_REVIEW_STREAM_HEARTBEAT="0.3")
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{base}/v1/alerts/stream") as response:
            started = time.monotonic()
            for line in response.iter_lines():
                if line.startswith(":"):
                    break
            assert line.startswith(": ping") and time.monotonic() - started < 3


def ws_alerts(ws, count: int, timeout: float = 10) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == "alert":
            assert message["cursor"] == message["alert"]["cursor"]
            out.append(message["alert"])
    return out


def test_websocket_resumes_from_a_cursor_and_sends_heartbeats(common_settings, review_process):
    _, base = review_process(**NO_FEED, PR_REVIEW_STREAM_HEARTBEAT="0.3")
    url = base.replace("http://", "ws://") + "/v1/alerts/ws"
    first = [make_alert() for _ in range(3)]
    append_direct(common_settings, first)
    with ws_connect(f"{url}?cursor=0") as ws:
        got = ws_alerts(ws, 3)
        live = make_alert()
        append_direct(common_settings, [live])
        got += ws_alerts(ws, 1)
        # Idle: a heartbeat comes within a few intervals.
        assert json.loads(ws.recv(timeout=3)) == {"type": "heartbeat"}
    missed = [make_alert() for _ in range(2)]
    append_direct(common_settings, missed)
    with ws_connect(f"{url}?cursor={got[-1]['cursor']}") as ws:
        got += ws_alerts(ws, 2)
    assert [a["alert_id"] for a in got] == [a["alert_id"] for a in first + [live] + missed]


def test_websocket_access_codes_and_scope(common_settings, review_process):
    _, base = review_process(**NO_FEED, PR_REVIEW_API_KEYS="east-key-01:manager:East")
    url = base.replace("http://", "ws://") + "/v1/alerts/ws"
    east, west = make_alert(team="East"), make_alert(team="West")
    append_direct(common_settings, [west, east])
    with httpx.Client(timeout=10) as client:
        spent = token(client, base, "east-key-01")
        with ws_connect(f"{url}?cursor=0&token={spent}") as ws:
            assert [a["alert_id"] for a in ws_alerts(ws, 1)] == [east["alert_id"]]
        refusals = (
            ("cursor=0", 4401),
            ("cursor=0&api_key=east-key-01", 4401),
            (f"cursor=0&token={spent}", 4401),
            (f"cursor=0&team=West&token={token(client, base, 'east-key-01')}", 4403),
        )
    for query, code in refusals:
        with ws_connect(f"{url}?{query}") as ws:
            with pytest.raises(Exception) as closed:
                ws.recv(timeout=5)
            assert ws.close_code == code, (query, closed.value)
    with ws_connect(f"{url}?cursor=0", additional_headers={"X-API-Key": "east-key-01"}) as ws:
        assert [a["alert_id"] for a in ws_alerts(ws, 1)] == [east["alert_id"]]


def test_a_slow_client_is_dropped_while_a_fast_one_keeps_receiving(common_settings, review_process):
    # The queue is deep enough that the fast reader keeps up on a loaded 2-core machine, and far
    # shorter than the run, so the slow client that never reads is still dropped.
    _, base = review_process(**NO_FEED, PR_REVIEW_STREAM_QUEUE_SIZE="1000", PR_REVIEW_STREAM_SEND_TIMEOUT="2")
    port = int(base.rsplit(":", 1)[1])
    total = 3000

    # The slow client: a tiny receive window and it never reads.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"GET /v1/alerts/stream HTTP/1.1\r\nHost: review\r\nAccept: text/event-stream\r\n\r\n")

    fast_got: list[str] = []

    def fast_reader():
        with httpx.Client(timeout=30) as client:
            with client.stream("GET", f"{base}/v1/alerts/stream") as response:
                reader = SSEReader(response)
                while len(fast_got) < total:
                    fast_got.append(reader.alerts(1)[0]["alert_id"])

    thread = threading.Thread(target=fast_reader, daemon=True)
    thread.start()
    wait_until(
        lambda: httpx.get(f"{base}/readyz").json()["stream_clients"] == 2, timeout=10, what="both clients subscribed"
    )
    padding = "x" * 3000  # big alerts fill the slow client's buffers quickly
    alerts = [make_alert(discount_reason=padding) for _ in range(total)]
    for start in range(0, total, 100):
        append_direct(common_settings, alerts[start : start + 100])
        time.sleep(0.03)
    thread.join(60)
    assert fast_got == [a["alert_id"] for a in alerts], f"fast client got {len(fast_got)} of {total}"
    metrics = httpx.get(f"{base}/metrics/").text
    assert "review_stream_dropped_total 1.0" in metrics

    # The slow client got a gap-free prefix, then the server ended its stream.
    slow.settimeout(15)
    received = b""
    while True:
        chunk = slow.recv(65536)
        if not chunk:
            break
        received += chunk
    slow.close()
    ids = [line.split(b": ", 1)[1].decode() for line in received.split(b"\n") if line.startswith(b"id: ")]
    assert 0 < len(ids) < total
    sent_cursors = [json.loads(line[6:])["alert_id"] for line in received.split(b"\n") if line.startswith(b"data: ")]
    assert sent_cursors == [a["alert_id"] for a in alerts[: len(sent_cursors)]]


def test_logs_hold_no_key_and_no_token(common_settings, review_process):
    service, base = review_process(**NO_FEED, PR_REVIEW_API_KEYS="east-key-s3cret-01:manager:East")
    url = base.replace("http://", "ws://") + "/v1/alerts/ws"
    append_direct(common_settings, [make_alert(team="East")])
    with httpx.Client(timeout=10) as client:
        sse_token, ws_token = token(client, base, "east-key-s3cret-01"), token(client, base, "east-key-s3cret-01")
        with client.stream("GET", f"{base}/v1/alerts/stream", params={"cursor": "0", "token": sse_token}) as response:
            assert SSEReader(response).alerts(1)
        with ws_connect(f"{url}?cursor=0&token={ws_token}") as ws:
            assert ws_alerts(ws, 1)
        # A client that still puts the key in the URL is refused, and its key is not logged either.
        assert client.get(f"{base}/v1/alerts", params={"api_key": "east-key-s3cret-01"}).status_code == 401
        assert client.get(f"{base}/v1/alerts", headers={"X-API-Key": "east-key-s3cret-01"}).status_code == 200
    service.stop()
    log = service.log_path.read_text()
    assert "/v1/alerts/stream?cursor=0&token=[redacted]" in log and "/v1/alerts/ws?cursor=0&token=[redacted]" in log
    assert "api_key=[redacted]" in log
    for secret in ("east-key-s3cret-01", sse_token, ws_token):
        assert secret not in log


def test_a_token_from_one_review_process_opens_the_stream_on_another(common_settings, review_process):
    keys = {"PR_REVIEW_API_KEYS": "east-key-01:manager:East"}
    _, base_a = review_process(**NO_FEED, **keys)
    _, base_b = review_process(**NO_FEED, **keys)
    east, west = make_alert(team="East"), make_alert(team="West")
    append_direct(common_settings, [west, east])
    with httpx.Client(timeout=10) as client:
        issued = token(client, base_a, "east-key-01")
        with client.stream("GET", f"{base_b}/v1/alerts/stream", params={"cursor": "0", "token": issued}) as response:
            assert response.status_code == 200
            assert [i["alert_id"] for i in SSEReader(response).alerts(1)] == [east["alert_id"]]
        assert client.get(f"{base_a}/v1/alerts/stream", params={"token": issued}).status_code == 401


def test_feed_wiped_from_redis_is_read_again_from_kafka(common_settings, review_process):
    """A FLUSHALL (here: this prefix's keys deleted) empties the feed while Kafka's committed offsets
    say "done"; review notices its marks are gone and re-reads deal-alerts, each alert once."""
    import redis

    _, base = review_process()
    alerts = [make_alert() for _ in range(4)]
    produce(common_settings, alerts)
    expected = sorted(a["alert_id"] for a in alerts)
    wait_until(lambda: sorted(feed_ids(base)) == expected, timeout=30, what="the four alerts")
    assert httpx.get(f"{base}/readyz").json()["alert_feed"]["duplicates"] == 0  # the first start re-read nothing twice
    keys = common_settings.keys
    with redis.Redis.from_url(common_settings.redis_url.get_secret_value()) as client:
        client.delete(keys.alerts_stream(), keys.alert_positions(), keys.alert_acks(), keys.alert_feed_synced())
    assert feed_ids(base) == []
    wait_until(lambda: sorted(feed_ids(base)) == expected, timeout=30, what="the wiped feed read again from Kafka")
    later = make_alert()
    produce(common_settings, [later])
    ids = wait_until(
        lambda: (lambda got: got if len(got) == 5 else None)(feed_ids(base)),
        timeout=30,
        what="a new alert after the re-read",
    )
    assert sorted(ids) == sorted(expected + [later["alert_id"]])
    assert httpx.get(f"{base}/readyz").json()["alert_feed"]["rewinds"] >= 2  # the first start, then the wipe
