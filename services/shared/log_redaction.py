"""Keep credentials out of the logs: redact secret query values in uvicorn's log lines.

uvicorn's access log (and its WebSocket "accepted" line) prints the full path with its query
string. No credential should be in a URL, but a client may still send one (an old dashboard, a
hand-written curl), and a stream token is in the URL by design: the value is replaced by
``[redacted]`` before any handler sees the record.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = ("token", "api_key", "apikey", "key", "access_token", "secret", "password")
REDACTED = "[redacted]"
_SECRET_VALUE = re.compile(r"([?&](?:%s)=)[^&#\s\"']*" % "|".join(SECRET_PARAMS), re.IGNORECASE)

# The loggers uvicorn writes request paths to.
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


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


def install_log_redaction(names: tuple[str, ...] = UVICORN_LOGGERS) -> None:
    """Put one :class:`RedactSecrets` on each named logger (idempotent).

    Logger filters survive uvicorn's ``dictConfig`` (it replaces handlers, not filters), so this
    may run before or after uvicorn configures logging.
    """
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
