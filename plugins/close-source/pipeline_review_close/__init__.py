"""Close CRM opportunity webhooks -> canonical deal events (an example source plug-in).

A Close webhook delivers ``{"subscription_id": ..., "event": {...}}`` where ``event`` has
``id``, ``object_type`` (``opportunity``), ``action`` (``created``/``updated``/``deleted``),
``object_id``, ``date_created``, ``data`` (the object now) and ``previous_data`` (the
changed fields' old values, on updates).

Close signs each delivery: ``close-sig-hash`` is the hex HMAC-SHA256, keyed with the
subscription's hex ``signature_key``, of ``close-sig-timestamp`` followed by the raw body.
Give the key as ``PR_CLOSE_SIGNATURE_KEY``; while it is unset ingest refuses the route
(503), except when it runs open on loopback.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.ingest.sources.base import (
    AuthError,
    DeadLetter,
    MappingResult,
    PayloadError,
    RawRequest,
    SourceAdapter,
    SourceAuth,
    ascii_integer,
    build_event,
    choose_type,
    coerce_change,
    join_path,
    parse_timestamp,
    source_id,
)
from services.shared.events import EventType
from services.shared.stages import StageMap

# Close field -> canonical field. Close stores values in cents ("value") with a currency.
FIELDS = {
    "note": "next_step",
    "lead_name": "account",
    "user_id": "owner_id",
    "user_name": "owner_name",
    "status_label": "stage",
    "value_currency": "currency",
    "date_won": "close_date",
    "expected_date": "close_date",
    "confidence": "probability",
}


SIGNATURE_VARIABLE = "PR_CLOSE_SIGNATURE_KEY"


class CloseSettings(BaseSettings):
    """The plug-in's own settings (prefix ``PR_CLOSE_``)."""

    model_config = SettingsConfigDict(env_prefix="PR_CLOSE_", extra="ignore")

    signature_key: SecretStr | None = Field(
        None, description="The webhook subscription's signature_key (hex); requests must carry a valid close-sig-hash."
    )
    max_signature_age: float = Field(300.0, gt=0, description="Oldest accepted close-sig-timestamp (s).")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CloseAdapter(SourceAdapter):
    """Maps Close opportunity webhook events; other objects go to the dead-letter topic."""

    name = "close"

    def __init__(
        self,
        stage_map: StageMap,
        signature_key: str | None = None,
        max_age: float = 300.0,
        clock: Callable[[], dt.datetime] = _utc_now,
    ):
        self.stage_map = stage_map
        try:
            self._key = bytes.fromhex(signature_key) if signature_key else None
        except ValueError:
            raise ValueError(
                f"{SIGNATURE_VARIABLE}: must be the hex signature_key of the webhook subscription"
            ) from None
        self.max_age = dt.timedelta(seconds=max_age)
        self.clock = clock
        self.auth = SourceAuth("close-signature", (SIGNATURE_VARIABLE,), configured=self._key is not None)

    def authenticate(self, request: RawRequest) -> None:
        """Check ``close-sig-hash`` over ``close-sig-timestamp`` + body, and the timestamp's age."""
        if self._key is None:
            return
        signature = request.headers.get("close-sig-hash", "").strip()
        timestamp = request.headers.get("close-sig-timestamp", "").strip()
        seconds = ascii_integer(timestamp)
        if not signature or seconds is None:
            raise AuthError("close: close-sig-hash and close-sig-timestamp (epoch seconds) are required")
        try:
            sent = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise AuthError("close: close-sig-timestamp is out of range") from None
        if abs(self.clock() - sent) > self.max_age:
            raise AuthError(f"close: close-sig-timestamp is more than {self.max_age} away from now")
        expected = hmac.new(self._key, timestamp.encode() + request.body, hashlib.sha256).hexdigest()
        try:
            given = binascii.unhexlify(signature)
        except (binascii.Error, ValueError):
            raise AuthError("close: close-sig-hash is not hex") from None
        if not hmac.compare_digest(bytes.fromhex(expected), given):
            raise AuthError("close: close-sig-hash does not match")

    def map(self, payload: Any, received_at: dt.datetime) -> MappingResult:
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
            raise PayloadError("event", "expected an object with an 'event' object")
        event = payload["event"]
        if event.get("object_type") != "opportunity":
            return MappingResult(
                dead_letters=[DeadLetter(f"object_type {event.get('object_type')!r} is not an opportunity", payload)]
            )
        action = event.get("action")
        if action not in ("created", "updated", "deleted"):
            return MappingResult(dead_letters=[DeadLetter(f"action {action!r} is not mapped", payload)])
        deal_id = f"close:{source_id(event.get('object_id'), 'event.object_id')}"
        event_id = f"close:{source_id(event.get('id'), 'event.id')}"
        occurred_at = parse_timestamp(event.get("date_created"), "event.date_created")
        if action == "deleted":
            return MappingResult(
                events=[
                    build_event(
                        source="close",
                        event_id=event_id,
                        deal_id=deal_id,
                        occurred_at=occurred_at,
                        type=EventType.DELETED,
                    )
                ]
            )
        data = event.get("data")
        if not isinstance(data, dict):
            raise PayloadError("event.data", "expected an object")
        names = data.keys() if action == "created" else (event.get("previous_data") or {}).keys()
        changes: dict[str, Any] = {}
        paths: dict[str, str] = {}
        for name in names:
            path = join_path("event.data", name)
            if name == "value":  # cents
                amount = coerce_change("amount", data.get(name), path)
                changes["amount"] = None if amount is None else amount / 100
                paths["amount"] = path
            elif name in FIELDS:
                changes[FIELDS[name]] = coerce_change(FIELDS[name], data.get(name), path)
                paths[FIELDS[name]] = path
        kind = EventType.CREATED if action == "created" else choose_type(changes, self.stage_map, "close")
        return MappingResult(
            events=[
                build_event(
                    source="close",
                    event_id=event_id,
                    deal_id=deal_id,
                    occurred_at=occurred_at,
                    type=kind,
                    changes=changes,
                    paths=paths,
                )
            ]
        )


def make_adapter(stage_map: StageMap) -> CloseAdapter:
    """The entry point Pipeline Review calls to build this source (secrets from PR_CLOSE_*)."""
    settings = CloseSettings()
    key = settings.signature_key.get_secret_value() if settings.signature_key else None
    return CloseAdapter(stage_map, signature_key=key, max_age=settings.max_signature_age)
