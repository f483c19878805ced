"""The source adapter interface: vendor payload in, canonical :class:`DealEvent` out.

An adapter is pure: :meth:`SourceAdapter.map` only looks at the parsed JSON it is given
(no I/O, no clock), so the same payload always maps to the same events with the same
``event_id`` -- a CRM retry is then a duplicate, which the pipeline drops.

The helpers at the bottom (timestamps, ids, choosing the event type, building the
event with field-named errors) are shared by the built-in adapters and free for
plug-ins to use.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.shared.events import DealChanges, DealEvent, EventType
from services.shared.stages import Phase, StageMap

__all__ = [
    "AuthError",
    "DeadLetter",
    "MappingResult",
    "PayloadError",
    "RawRequest",
    "SourceAdapter",
    "SourceAuth",
    "ascii_integer",
    "build_event",
    "check_field_map",
    "choose_type",
    "coerce_change",
    "content_hash",
    "join_path",
    "parse_date",
    "parse_timestamp",
    "source_id",
]


@dataclass(frozen=True)
class RawRequest:
    """What the HTTP layer hands an adapter for authentication.

    ``url`` is the full URL as received (scheme, host, path and query: HubSpot signs
    it); ``headers`` have lower-cased names; ``body`` is the raw body, unparsed.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


class PayloadError(ValueError):
    """The payload is malformed (HTTP 400/422). ``field`` is a JSON-pointer-ish path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class AuthError(Exception):
    """The request is not authenticated (HTTP 401)."""


@dataclass(frozen=True)
class SourceAuth:
    """How a source proves its requests come from it; every adapter declares one.

    ``scheme`` names the check (``bearer``, ``basic``, ``hubspot-v3-signature``...);
    ``variables`` are the settings holding the secret, named in the 503 a route answers
    while they are unset; ``configured`` says whether they are set. An adapter without
    a ``SourceAuth`` is refused at load, and one whose secret is unset refuses every
    request, except when ingest runs open (no keys, on loopback).
    """

    scheme: str
    variables: tuple[str, ...]
    configured: bool


@dataclass
class DeadLetter:
    """A well-formed item that cannot be mapped: kept (dead-letter topic), never dropped."""

    reason: str
    payload: Any


@dataclass
class MappingResult:
    """What one payload maps to: canonical events plus the items that could not be mapped."""

    events: list[DealEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def extend(self, other: MappingResult) -> None:
        """Append another result's events and dead letters to this one."""
        self.events.extend(other.events)
        self.dead_letters.extend(other.dead_letters)


class SourceAdapter(abc.ABC):
    """Turns one CRM's webhook/stream payloads into canonical deal events.

    ``name`` is the route name (``POST /v1/sources/<name>``) and the events' ``source``.
    """

    name: str
    auth: SourceAuth | None = None
    """How requests are authenticated; None (the default) means the adapter declares none."""

    def authenticate(self, request: RawRequest) -> None:
        """Raise :class:`AuthError` unless the request comes from the source.

        Called only when ``auth.configured``; it must raise AuthError (never anything
        else) on any malformed credential. Default: accept.
        """
        return None

    def map(self, payload: Any, received_at: dt.datetime) -> MappingResult:
        """Map parsed JSON to events and dead letters; raise :class:`PayloadError` on bad input.

        Pure: no I/O. ``received_at`` is only a fallback where the source gives no time.
        By default a list maps item by item (paths ``[0]``, ``[1]``, ...) and anything else as one
        item, through :meth:`map_item`; an adapter whose payloads differ overrides this.
        """
        result = MappingResult()
        items = (
            ((f"[{index}]", item) for index, item in enumerate(payload))
            if isinstance(payload, list)
            else (("", payload),)
        )
        for path, item in items:
            result.extend(self.map_item(item, path, received_at))
        return result

    def map_item(self, item: Any, path: str, received_at: dt.datetime) -> MappingResult:
        """Map one item of a payload found at ``path`` ("" for the whole payload)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither map nor map_item")


# --------------------------------------------------------------------------- helpers

_MS_THRESHOLD = 100_000_000_000  # epoch values above this are milliseconds (1e11 s is year 5138)
_US_THRESHOLD = 100_000_000_000_000  # ... and above this, microseconds


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def ascii_integer(text: str) -> int | None:
    """``int(text)`` when it is an optionally signed run of ASCII digits, else None.

    ``str.isdigit`` is true for "²" and other digits ``int`` refuses, and ``int`` accepts
    "١٢" and "1_000"; neither belongs in a vendor's number. Longer than 4,300 digits is
    refused too (Python's own int-from-text limit).
    """
    body = text.strip()
    digits = body[1:] if body[:1] in ("-", "+") else body
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 4300:
        return None
    return int(body)


def parse_timestamp(value: Any, path: str, *, epoch_unit: str = "auto") -> dt.datetime:
    """A timezone-aware UTC datetime from an ISO string or an epoch number (or digit string).

    ``epoch_unit`` is ``"ms"``, ``"s"`` or ``"auto"`` (seconds, milliseconds or
    microseconds, told apart by size). Naive ISO strings are taken as UTC.
    """
    if isinstance(value, str) and ascii_integer(value) is not None:
        value = ascii_integer(value)
    if _is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise PayloadError(path, "must be a finite epoch number")
        try:
            if epoch_unit == "ms":
                seconds = value / 1000
            elif epoch_unit == "s":
                seconds = value
            elif abs(value) >= _US_THRESHOLD:
                seconds = value / 1_000_000
            elif abs(value) >= _MS_THRESHOLD:
                seconds = value / 1000
            else:
                seconds = value
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            # int / int raises OverflowError past 1e308; fromtimestamp past year 9999.
            shown = value if abs(value) < 10**30 else f"{str(value)[:12]}... ({len(str(abs(value)))} digits)"
            raise PayloadError(path, f"epoch value {shown} is out of range") from None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise PayloadError(path, f"{value!r} is not an ISO 8601 timestamp or epoch number") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before datetime.min in UTC
            raise PayloadError(path, f"{value!r} is out of range once converted to UTC") from None
    raise PayloadError(path, "must be an ISO 8601 timestamp or an epoch number")


def parse_date(value: Any, path: str) -> dt.date | None:
    """A calendar date from ``YYYY-MM-DD``, an ISO timestamp, or epoch milliseconds.

    ``None`` and ``""`` mean cleared. Small integers (below 100000) are days since the
    epoch, the Avro ``date`` form a Pub/Sub client decodes.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value.strip()) == 10 and value.strip()[4] == "-":
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise PayloadError(path, f"{value!r} is not a date") from None
    if _is_number(value) and abs(value) < 100_000:
        return dt.date(1970, 1, 1) + dt.timedelta(days=int(value))
    return parse_timestamp(value, path, epoch_unit="ms" if _is_number(value) else "auto").astimezone(dt.UTC).date()


def source_id(value: Any, path: str) -> str:
    """A record id as text; accepts strings and integral numbers."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(path, "must be an id (string or integer)")
    if isinstance(value, float):
        if not value.is_integer():
            raise PayloadError(path, f"{value!r} is not an integer id")
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise PayloadError(path, "must be a non-empty id (string or integer)")


def content_hash(*parts: Any) -> str:
    """A short, stable hash of JSON-able parts (for event ids where the source has none)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def choose_type(changes: Mapping[str, Any], stage_map: StageMap, source: str) -> EventType:
    """The event type of an update: closed won/lost > discount requested > stage changed > updated.

    The type names the most significant change; every change stays in ``changes``.
    """
    if "stage" in changes and changes["stage"] is not None:
        phase = stage_map.phase(changes["stage"], source)
        if phase is Phase.WON:
            return EventType.CLOSED_WON
        if phase is Phase.LOST:
            return EventType.CLOSED_LOST
    discount = changes.get("discount_pct")
    if discount is not None and discount > 0:
        return EventType.DISCOUNT_REQUESTED
    if "stage" in changes:
        return EventType.STAGE_CHANGED
    return EventType.UPDATED


def build_event(
    *,
    source: str,
    event_id: str,
    deal_id: str,
    occurred_at: dt.datetime,
    type: EventType,
    changes: Mapping[str, Any] | None = None,
    sequence: int | None = None,
    paths: Mapping[str, str] | None = None,
    base_path: str = "",
) -> DealEvent:
    """Validate and build a :class:`DealEvent`; a bad value raises :class:`PayloadError`.

    ``paths`` maps canonical change names to the payload path they came from, so the
    error names the vendor's field. Only the keys given are marked as changed.
    """
    changes = dict(changes or {})
    try:
        validated = DealChanges(**changes)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        where = (paths or {}).get(name) or (f"{base_path}.{name}" if base_path else name)
        raise PayloadError(where, f"{err['msg']} (got {changes.get(name)!r})") from None
    try:
        extra = {"sequence": sequence} if sequence is not None else {}
        return DealEvent(
            source=source,
            event_id=event_id,
            deal_id=deal_id,
            occurred_at=occurred_at,
            type=type,
            changes=validated,
            **extra,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        raise PayloadError(f"{base_path} ({name})" if base_path else name, err["msg"]) from None


def join_path(base: str, *parts: str | int) -> str:
    """Join path segments: ``join_path("[0]", "payload", "Amount") == "[0].payload.Amount"``."""
    out = base
    for part in parts:
        if isinstance(part, int):
            out = f"{out}[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


# Canonical names an adapter may map a plain vendor field to, by value kind.
TEXT_FIELDS = frozenset(
    {
        "name",
        "account",
        "owner_id",
        "owner_name",
        "team",
        "manager_id",
        "stage",
        "currency",
        "discount_reason",
        "requested_by",
        "next_step",
    }
)
NUMBER_FIELDS = frozenset({"amount", "potential_value", "probability", "discount_pct"})
DATE_FIELDS = frozenset({"close_date"})
SCALAR_FIELDS = TEXT_FIELDS | NUMBER_FIELDS | DATE_FIELDS


def coerce_change(canonical: str, value: Any, path: str) -> Any:
    """Convert a vendor value for canonical field ``canonical``; ``None``/``""`` mean cleared."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if canonical in NUMBER_FIELDS:
        if _is_number(value):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise PayloadError(path, f"{value!r} is not a number") from None
        else:
            raise PayloadError(path, f"{value!r} is not a number")
        if not math.isfinite(number):
            raise PayloadError(path, f"{value!r} is not a finite number")
        return number
    if canonical in DATE_FIELDS:
        return parse_date(value, path)
    if canonical in TEXT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise PayloadError(path, f"must be text, got {type(value).__name__}")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()
    raise ValueError(f"{canonical!r} is not a scalar canonical field")


def check_field_map(field_map: Mapping[str, str], what: str) -> dict[str, str]:
    """Validate a vendor-field -> canonical-name map given to an adapter constructor."""
    out = dict(field_map)
    bad = sorted({c for c in out.values() if c not in SCALAR_FIELDS})
    if bad:
        raise ValueError(f"{what}: {', '.join(bad)} not canonical fields (one of {', '.join(sorted(SCALAR_FIELDS))})")
    return out
