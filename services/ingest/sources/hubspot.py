"""HubSpot webhook batches (deal subscriptions) -> canonical deal events.

A batch is a JSON array of events (a single object is accepted too). The type is read
from ``subscriptionType`` or ``eventType``:

* ``deal.creation`` and ``deal.restore`` -> ``deal.created`` (HubSpot sends no values);
* ``deal.propertyChange`` for a mapped property -> one change (HubSpot sends no
  previous values, so only the changed property is emitted; ``""`` means cleared);
* ``deal.deletion`` -> ``deal.deleted``;
* ``deal.merge`` -> ``deal.deleted`` for each merged-away deal (and ``deal.created`` for
  ``newObjectId`` when the merge made a new record).

Other object types, subscription types and unmapped properties become dead letters.
``deal_id`` is ``hubspot:<objectId>``; ``event_id`` is ``hubspot:<eventId>`` (with
``:<deal id>`` appended for the several events of one merge).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from services.shared.events import EventType
from services.shared.stages import StageMap

from .base import (
    AuthError,
    DeadLetter,
    MappingResult,
    PayloadError,
    RawRequest,
    SourceAdapter,
    SourceAuth,
    ascii_integer,
    build_event,
    check_field_map,
    choose_type,
    coerce_change,
    join_path,
    parse_timestamp,
    source_id,
)

DEAL_PROPERTIES: dict[str, str] = {
    "dealstage": "stage",
    "amount": "amount",
    "closedate": "close_date",
    "dealname": "name",
    "hubspot_owner_id": "owner_id",
    "deal_currency_code": "currency",
    "hs_next_step": "next_step",
}
"""Deal property -> canonical change name (the discount property is added per adapter)."""

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"

# Characters HubSpot decodes in the request URI before signing it (v3 signature).
_URI_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HubSpotWebhookAdapter(SourceAdapter):
    """Maps HubSpot webhook deal events; checks the v3 signature when a secret is set."""

    name = "hubspot"

    def __init__(
        self,
        *,
        stage_map: StageMap,
        client_secret: str | None = None,
        max_age: dt.timedelta | float = dt.timedelta(minutes=5),
        discount_property: str = "discount_requested_pct",
        extra_properties: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        """
        :param stage_map: tells won/lost stages apart; ``[stage_ids.hubspot]`` (if any)
            names numeric stage ids of custom pipelines.
        :param client_secret: the app's client secret; when set, requests must carry a
            valid ``X-HubSpot-Signature-v3``.
        :param max_age: oldest accepted ``X-HubSpot-Request-Timestamp`` (timedelta or seconds).
        :param discount_property: the deal property holding a requested discount in percent.
        :param extra_properties: more deal properties to map, e.g. ``{"team": "team"}``.
        :param clock: current time (tests).
        """
        self.stage_map = stage_map
        self.client_secret = client_secret
        self.max_age = max_age if isinstance(max_age, dt.timedelta) else dt.timedelta(seconds=max_age)
        self.clock = clock
        self.auth = SourceAuth(
            "hubspot-v3-signature", ("PR_INGEST_HUBSPOT_CLIENT_SECRET",), configured=bool(client_secret)
        )
        props = dict(DEAL_PROPERTIES)
        props.update(check_field_map(extra_properties or {}, "extra_properties"))
        props[discount_property] = "discount_pct"
        self.properties = props

    # ------------------------------------------------------------------ auth

    def authenticate(self, request: RawRequest) -> None:
        """Verify ``X-HubSpot-Signature-v3`` and the request timestamp (if a secret is set)."""
        if not self.client_secret:
            return
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise AuthError("hubspot: X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required")
        millis = ascii_integer(timestamp)
        try:
            if millis is None:
                raise ValueError(timestamp)
            sent = dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise AuthError("hubspot: X-HubSpot-Request-Timestamp is not epoch milliseconds") from None
        age = self.clock() - sent
        if age > self.max_age:
            raise AuthError(f"hubspot: request timestamp is older than {self.max_age}")
        if age < -self.max_age:
            raise AuthError("hubspot: request timestamp is in the future")
        try:
            given = signature.strip().encode()
            signed = [
                request.method.upper().encode() + uri.encode() + request.body + timestamp.strip().encode()
                for uri in _uri_variants(request.url)
            ]
        except UnicodeError:  # a lone surrogate cannot be what HubSpot signed: a mismatch, not a crash
            raise AuthError("hubspot: X-HubSpot-Signature-v3 does not match") from None
        for message in signed:
            expected = base64.b64encode(hmac.new(self.client_secret.encode(), message, hashlib.sha256).digest())
            if hmac.compare_digest(expected, given):
                return
        raise AuthError("hubspot: X-HubSpot-Signature-v3 does not match")

    # ------------------------------------------------------------------ mapping

    def map(self, payload: Any, received_at: dt.datetime) -> MappingResult:
        """Map a webhook batch (array) or a single event object."""
        if not isinstance(payload, (list, dict)):
            raise PayloadError("$", "must be a JSON array of webhook events")
        return super().map(payload, received_at)

    def map_item(self, item: Any, base: str, received_at: dt.datetime) -> MappingResult:
        if not isinstance(item, dict):
            raise PayloadError(base or "$", "must be a webhook event object")
        result = MappingResult()
        kind_key = "subscriptionType" if "subscriptionType" in item else "eventType"
        kind = item.get(kind_key)
        if not isinstance(kind, str) or "." not in kind:
            raise PayloadError(join_path(base, "subscriptionType"), "is required (or eventType), like 'deal.creation'")
        if "eventId" not in item:
            raise PayloadError(join_path(base, "eventId"), "is required")
        event_key = source_id(item["eventId"], join_path(base, "eventId"))
        if "occurredAt" not in item:
            raise PayloadError(join_path(base, "occurredAt"), "is required")
        occurred_at = parse_timestamp(item["occurredAt"], join_path(base, "occurredAt"), epoch_unit="ms")

        object_type, _, action = kind.partition(".")
        if object_type != "deal":
            result.dead_letters.append(DeadLetter(f"hubspot {kind}: object type {object_type!r} is not mapped", item))
            return result

        def deal_ref(key: str, value: Any = None, path: str | None = None) -> str:
            raw = item.get(key) if value is None else value
            where = path or join_path(base, key)
            if raw is None:
                raise PayloadError(where, "is required")
            return "hubspot:" + source_id(raw, where)

        def event(
            deal_id: str,
            event_type: EventType,
            changes: dict | None = None,
            suffix: str = "",
            paths: dict | None = None,
        ):
            return build_event(
                source=self.name,
                event_id=f"hubspot:{event_key}{suffix}",
                deal_id=deal_id,
                occurred_at=occurred_at,
                type=event_type,
                changes=changes,
                paths=paths,
                base_path=base,
            )

        if action in ("creation", "restore"):
            result.events.append(event(deal_ref("objectId"), EventType.CREATED))
        elif action == "deletion":
            result.events.append(event(deal_ref("objectId"), EventType.DELETED))
        elif action == "propertyChange":
            deal_id = deal_ref("objectId")
            prop = item.get("propertyName")
            if not isinstance(prop, str) or not prop:
                raise PayloadError(join_path(base, "propertyName"), "is required for deal.propertyChange")
            canonical = self.properties.get(prop)
            if canonical is None:
                result.dead_letters.append(DeadLetter(f"hubspot deal property {prop!r} is not mapped", item))
                return result
            path = join_path(base, "propertyValue")
            value = coerce_change(canonical, item.get("propertyValue"), path)
            if canonical == "stage" and value is not None:
                value = self.stage_map.stage_name(self.name, value) or value
            changes: dict[str, Any] = {canonical: value}
            if canonical == "discount_pct" and value:
                requester = _requester(item)
                if requester:
                    changes["requested_by"] = requester
            result.events.append(
                event(deal_id, choose_type(changes, self.stage_map, self.name), changes, paths={canonical: path})
            )
        elif action == "merge":
            merged = item.get("mergedObjectIds")
            if not isinstance(merged, list) or not merged:
                raise PayloadError(join_path(base, "mergedObjectIds"), "must be a non-empty list of ids")
            primary_raw = item.get("primaryObjectId", item.get("objectId"))
            primary = deal_ref("primaryObjectId", primary_raw)
            new = deal_ref("newObjectId") if item.get("newObjectId") is not None else primary
            gone = [deal_ref("mergedObjectIds", m, join_path(base, "mergedObjectIds", i)) for i, m in enumerate(merged)]
            if new != primary:
                gone.append(primary)
            seen: set[str] = set()
            for deal_id in gone:
                if deal_id == new or deal_id in seen:
                    continue
                seen.add(deal_id)
                result.events.append(event(deal_id, EventType.DELETED, suffix=f":{deal_id.split(':', 1)[1]}"))
            if new != primary:
                result.events.append(event(new, EventType.CREATED, suffix=f":{new.split(':', 1)[1]}"))
        else:
            result.dead_letters.append(DeadLetter(f"hubspot subscription type {kind!r} is not mapped", item))
        return result


def _requester(item: dict) -> str | None:
    """Who made the change: the user id from ``sourceId`` (``userId:123``), if any."""
    source = item.get("sourceId")
    if isinstance(source, str) and source.startswith("userId:") and len(source) > len("userId:"):
        return source.split(":", 1)[1]
    return None


def _uri_variants(url: str) -> list[str]:
    """The URL as received, and with the characters HubSpot decodes before signing decoded."""
    decoded = url
    for code, char in _URI_DECODE.items():
        decoded = decoded.replace(code, char).replace(code.lower(), char)
    return [url] if decoded == url else [decoded, url]
