"""Keep credentials out of the logs: redact secret query values in uvicorn's log lines, and
cut the URLs httpx logs down to their host.

uvicorn's access log (and its WebSocket "accepted" line) prints the full path with its query
string. No credential should be in a URL, but a client may still send one (an old dashboard, a
hand-written curl), and a stream token is in the URL by design: the value is replaced by
``[redacted]`` before any handler sees the record.

httpx logs every request it sends at INFO with the full URL (``HTTP Request: POST https://...``);
for an outgoing webhook that URL is itself a secret (a Slack incoming-webhook URL is the
credential), so only ``scheme://host[:port]/…`` is kept.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

SECRET_PARAMS = ("token", "api_key", "apikey", "key", "access_token", "secret", "password")
REDACTED = "[redacted]"
_SECRET_VALUE = re.compile(r"([?&](?:" + "|".join(SECRET_PARAMS) + r")=)[^&#\s\"']*", re.IGNORECASE)

# The loggers uvicorn writes request paths to.
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")
# The loggers that print the full URLs of outgoing requests.
CLIENT_LOGGERS = ("httpx",)


def redact(text: str) -> str:
    """``/v1/alerts/stream?token=abc&team=East`` -> ``/v1/alerts/stream?token=[redacted]&team=East``."""
    return _SECRET_VALUE.sub(lambda m: m.group(1) + REDACTED, text)


def _clean(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments with :func:`redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _clean(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_clean(v) for v in record.args)
        return True


def host_only(value: object) -> object:
    """``https://user:pw@hooks.slack.com/services/T/B/x?y`` -> ``https://hooks.slack.com/…``; other values as they are."""
    text = str(value)
    if not text.startswith(("http://", "https://")):
        return value
    parts = urlsplit(text)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


class HostOnlyUrls(logging.Filter):
    """Rewrites the URL arguments of a record (httpx passes an ``httpx.URL``) to their host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(host_only(v) for v in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: host_only(v) for k, v in record.args.items()}
        return True


def _add_once(names: tuple[str, ...], kind: type[logging.Filter]) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def install_log_redaction(
    names: tuple[str, ...] = UVICORN_LOGGERS, client_names: tuple[str, ...] = CLIENT_LOGGERS
) -> None:
    """Put one :class:`RedactSecrets` on each server logger and one :class:`HostOnlyUrls` on each
    client logger (idempotent).

    Logger filters survive uvicorn's ``dictConfig`` (it replaces handlers, not filters), so this
    may run before or after uvicorn configures logging.
    """
    _add_once(names, RedactSecrets)
    _add_once(client_names, HostOnlyUrls)
