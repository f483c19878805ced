"""Credentials never reach the logs (pure)."""

from __future__ import annotations

import logging

import pytest

from services.shared.log_redaction import RedactSecrets, install_log_redaction, redact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/v1/alerts/stream?token=abc123&team=East", "/v1/alerts/stream?token=[redacted]&team=East"),
        ("/v1/alerts?team=East&api_key=s3cret", "/v1/alerts?team=East&api_key=[redacted]"),
        ("/v1/alerts/ws?cursor=1-0&TOKEN=x&Key=y", "/v1/alerts/ws?cursor=1-0&TOKEN=[redacted]&Key=[redacted]"),
        ("/v1/lists/leader?cursor=abc&monkey=1", "/v1/lists/leader?cursor=abc&monkey=1"),
        ("/v1/alerts", "/v1/alerts"),
    ],
)
def test_secret_query_values_are_redacted_and_the_rest_kept(path, expected):
    assert redact(path) == expected


def test_uvicorn_access_and_websocket_records_are_rewritten(caplog, monkeypatch):
    install_log_redaction()
    install_log_redaction()  # idempotent
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactSecrets) for f in access.filters) == 1
    # A uvicorn started earlier in the same run (dictConfig) stops these loggers propagating
    # to caplog's root handler, or disables them: undo that for this test only.
    for name in ("uvicorn.access", "uvicorn.error"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
        caplog.set_level("INFO", logger=name)
    caplog.set_level("INFO")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/alerts/stream?token=t0p-s3cret", "1.1", 200)
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', ("127.0.0.1", 5), "/v1/alerts/ws?api_key=k3y-s3cret"
    )
    text = caplog.text
    assert "t0p-s3cret" not in text and "k3y-s3cret" not in text
    assert "/v1/alerts/stream?token=[redacted]" in text and "/v1/alerts/ws?api_key=[redacted]" in text


def test_outgoing_request_urls_are_logged_with_their_host_only(caplog, monkeypatch):
    import httpx

    install_log_redaction()
    client_log = logging.getLogger("httpx")
    monkeypatch.setattr(client_log, "propagate", True)  # as above: undo an earlier dictConfig
    monkeypatch.setattr(client_log, "disabled", False)
    caplog.set_level("INFO", logger="httpx")
    caplog.set_level("INFO")
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        client.post("https://hooks.slack.com:8443/services/T0/B0/s3cret-part?sig=abc")
    assert "hooks.slack.com:8443" in caplog.text  # httpx did log the request
    assert "s3cret-part" not in caplog.text and "sig=abc" not in caplog.text
