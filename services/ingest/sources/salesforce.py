"""Salesforce Change Data Capture (Opportunity, plus quote discounts) -> canonical deal events.

Accepts the CometD envelope ``{schema, payload: {ChangeEventHeader, ...fields}, event:
{replayId}}`` (optionally wrapped as ``{data: {...}, channel}``), or the payload on its
own; one event or a list.

* ``deal_id`` is ``salesforce:<Opportunity id>``; one event per id in ``recordIds``.
* ``event_id`` is ``salesforce:<transactionKey>:<sequenceNumber>:<recordId>``.
* ``occurred_at`` is ``commitTimestamp``; ``sequence`` is ``sequenceNumber``.
* On UPDATE only the fields named in ``changedFields`` (or ``nulledFields``) are
  changes; one named there but absent from the payload was cleared (``null``).
* Gap events (``GAP_*``), other entities, other change types and wildcard record ids
  become dead letters.
* ``SBQQ__Quote__c`` / ``QuoteLineItem`` events carrying a discount become
  ``deal.discount_requested`` on the quote's opportunity (``SBQQ__Opportunity2__c`` or
  ``OpportunityId``, which must be in the event: enrich the channel with it).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from services.shared.events import SEQUENCE_MAX, SEQUENCE_MIN, EventType
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

OPPORTUNITY_FIELDS: dict[str, str] = {
    "Name": "name",
    "AccountId": "account",
    "OwnerId": "owner_id",
    "StageName": "stage",
    "Amount": "amount",
    "CurrencyIsoCode": "currency",
    "CloseDate": "close_date",
    "Probability": "probability",
    "NextStep": "next_step",
}
"""Opportunity field -> canonical change name (extend with ``extra_fields``)."""

QUOTE_ENTITIES = ("SBQQ__Quote__c", "QuoteLineItem")
QUOTE_DISCOUNT_FIELDS = ("SBQQ__CustomerDiscount__c", "SBQQ__Discount__c", "Discount")
QUOTE_OPPORTUNITY_FIELDS = ("SBQQ__Opportunity2__c", "OpportunityId")
CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE")


class SalesforceCDCAdapter(SourceAdapter):
    """Maps Salesforce CDC events for Opportunity (and quote discounts)."""

    name = "salesforce"

    def __init__(
        self,
        *,
        stage_map: StageMap,
        token: str | None = None,
        extra_fields: Mapping[str, str] | None = None,
        opportunity_discount_field: str | None = None,
        quote_discount_fields: Iterable[str] = QUOTE_DISCOUNT_FIELDS,
    ) -> None:
        """
        :param stage_map: tells won/lost stages apart (``deal.closed_won``/``closed_lost``).
        :param token: when set, requests must carry ``Authorization: Bearer <token>``
            (CDC is relayed to us by a subscriber, not pushed by Salesforce).
        :param extra_fields: more Opportunity fields to map, e.g. ``{"Team__c": "team"}``.
        :param opportunity_discount_field: an Opportunity field holding a requested
            discount in percent (``deal.discount_requested`` when it is set above 0).
        :param quote_discount_fields: quote / quote line fields holding a discount in
            percent, first one present wins.
        """
        self.stage_map = stage_map
        self.token = token
        self.auth = SourceAuth("bearer", ("PR_INGEST_SALESFORCE_TOKEN",), configured=bool(token))
        fields = dict(OPPORTUNITY_FIELDS)
        fields.update(check_field_map(extra_fields or {}, "extra_fields"))
        if opportunity_discount_field:
            fields[opportunity_discount_field] = "discount_pct"
        self.fields = fields
        self.quote_discount_fields = tuple(quote_discount_fields)

    def authenticate(self, request: RawRequest) -> None:
        """Check the bearer token (in constant time) when one is configured."""
        if not self.token:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        # Encoded as UTF-8 first: compare_digest refuses str with non-ASCII characters.
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token.encode()):
            raise AuthError(
                "salesforce: missing or wrong bearer token (Authorization: Bearer <PR_INGEST_SALESFORCE_TOKEN>)"
            )

    # ------------------------------------------------------------------ internals

    def map_item(self, item: Any, base: str, received_at: dt.datetime) -> MappingResult:
        """One CDC event (the payload is one or a list of them)."""
        if not isinstance(item, dict):
            raise PayloadError(base or "$", "must be a CDC event object")
        body, body_path = _unwrap(item, base)
        header_path = join_path(body_path, "ChangeEventHeader")
        header = body.get("ChangeEventHeader")
        if not isinstance(header, dict):
            raise PayloadError(header_path, "is required and must be an object")

        entity = _text(header, "entityName", header_path)
        change_type = _text(header, "changeType", header_path)
        record_ids = header.get("recordIds")
        if not isinstance(record_ids, list) or not record_ids:
            raise PayloadError(join_path(header_path, "recordIds"), "must be a non-empty list of ids")
        ids = [source_id(rid, join_path(header_path, "recordIds", i)) for i, rid in enumerate(record_ids)]
        if "commitTimestamp" not in header:
            raise PayloadError(join_path(header_path, "commitTimestamp"), "is required")
        occurred_at = parse_timestamp(
            header["commitTimestamp"], join_path(header_path, "commitTimestamp"), epoch_unit="ms"
        )
        transaction_key = _text(header, "transactionKey", header_path)
        sequence = _integer(header, "sequenceNumber", header_path)
        commit_user = header.get("commitUser")
        changed = _name_list(header, "changedFields", header_path)
        nulled = _name_list(header, "nulledFields", header_path)

        result = MappingResult()
        if change_type.startswith("GAP_"):
            result.dead_letters.append(
                DeadLetter(
                    f"salesforce gap event {change_type} for {entity} {', '.join(ids)} at "
                    f"{occurred_at.isoformat()}: the change is not in the event; re-read the record(s) to resync",
                    item,
                )
            )
            return result
        if change_type not in CHANGE_TYPES:
            result.dead_letters.append(DeadLetter(f"salesforce change type {change_type!r} is not mapped", item))
            return result
        if entity == "Opportunity":
            mapper = self._opportunity
        elif entity in QUOTE_ENTITIES:
            mapper = self._quote
        else:
            result.dead_letters.append(DeadLetter(f"salesforce entity {entity!r} is not mapped", item))
            return result

        for record_id in ids:
            if record_id.endswith("*"):
                result.dead_letters.append(
                    DeadLetter(f"salesforce wildcard record id {record_id!r} ({change_type}) cannot be mapped", item)
                )
                continue
            event_id = f"salesforce:{transaction_key}:{sequence}:{record_id}"
            mapped = mapper(
                body=body,
                body_path=body_path,
                change_type=change_type,
                record_id=record_id,
                event_id=event_id,
                occurred_at=occurred_at,
                sequence=sequence,
                changed=changed,
                nulled=nulled,
                commit_user=commit_user if isinstance(commit_user, str) and commit_user else None,
            )
            if isinstance(mapped, DeadLetter):
                mapped.payload = item
                result.dead_letters.append(mapped)
            else:
                result.events.append(mapped)
        return result

    def _field_values(
        self,
        body: dict,
        body_path: str,
        fields: Iterable[str],
        change_type: str,
        changed: list[str] | None,
        nulled: list[str] | None,
    ) -> dict[str, tuple[Any, str]]:
        """Vendor field -> (raw value, path) for the fields this event changes."""
        out: dict[str, tuple[Any, str]] = {}
        for sf_field in fields:
            path = join_path(body_path, sf_field)
            if change_type == "UPDATE":
                if changed:
                    named = sf_field in changed or (nulled is not None and sf_field in nulled)
                    if named:
                        out[sf_field] = (body.get(sf_field), path)
                elif sf_field in body:
                    out[sf_field] = (body[sf_field], path)
                elif nulled and sf_field in nulled:
                    out[sf_field] = (None, path)
            elif change_type in ("CREATE", "UNDELETE"):
                if body.get(sf_field) is not None:
                    out[sf_field] = (body[sf_field], path)
        return out

    def _opportunity(
        self, *, body, body_path, change_type, record_id, event_id, occurred_at, sequence, changed, nulled, commit_user
    ):
        changes: dict[str, Any] = {}
        paths: dict[str, str] = {}
        for sf_field, (raw, path) in self._field_values(
            body, body_path, self.fields, change_type, changed, nulled
        ).items():
            canonical = self.fields[sf_field]
            changes[canonical] = coerce_change(canonical, raw, path)
            paths[canonical] = path
        if change_type == "DELETE":
            event_type = EventType.DELETED
        elif change_type in ("CREATE", "UNDELETE"):
            event_type = EventType.CREATED
        else:
            event_type = choose_type(changes, self.stage_map, self.name)
        if changes.get("discount_pct") and commit_user and "requested_by" not in changes:
            changes["requested_by"] = commit_user
        return build_event(
            source=self.name,
            event_id=event_id,
            deal_id=f"salesforce:{record_id}",
            occurred_at=occurred_at,
            sequence=sequence,
            type=event_type,
            changes=changes,
            paths=paths,
            base_path=body_path,
        )

    def _quote(
        self, *, body, body_path, change_type, record_id, event_id, occurred_at, sequence, changed, nulled, commit_user
    ):
        if change_type == "DELETE":
            return DeadLetter(f"salesforce quote {record_id} deleted: not a deal change", None)
        values = self._field_values(body, body_path, self.quote_discount_fields, change_type, changed, nulled)
        if not values:
            return DeadLetter(f"salesforce quote {record_id} ({change_type}) carries no discount field", None)
        sf_field = next(f for f in self.quote_discount_fields if f in values)
        raw, path = values[sf_field]
        opportunity = None
        for opp_field in QUOTE_OPPORTUNITY_FIELDS:
            if body.get(opp_field) not in (None, ""):
                opportunity = source_id(body[opp_field], join_path(body_path, opp_field))
                break
        if opportunity is None:
            return DeadLetter(
                f"salesforce quote {record_id} carries a discount but no opportunity id "
                f"({' / '.join(QUOTE_OPPORTUNITY_FIELDS)}; enrich the CDC channel with it)",
                None,
            )
        discount = coerce_change("discount_pct", raw, path)
        changes: dict[str, Any] = {"discount_pct": discount}
        if discount and commit_user:
            changes["requested_by"] = commit_user
        return build_event(
            source=self.name,
            event_id=event_id,
            deal_id=f"salesforce:{opportunity}",
            occurred_at=occurred_at,
            sequence=sequence,
            type=EventType.DISCOUNT_REQUESTED if discount else EventType.UPDATED,
            changes=changes,
            paths={"discount_pct": path},
            base_path=body_path,
        )


def _unwrap(item: dict, base: str) -> tuple[dict, str]:
    """The CDC payload (header + fields) and its path, from any of the accepted shapes."""
    if isinstance(item.get("data"), dict) and "payload" in item["data"]:
        item, base = item["data"], join_path(base, "data")
    if "payload" in item:
        body = item["payload"]
        path = join_path(base, "payload")
        if not isinstance(body, dict):
            raise PayloadError(path, "must be an object")
        return body, path
    if "ChangeEventHeader" in item:
        return item, base
    raise PayloadError(
        join_path(base, "payload"),
        "is required: send {schema, payload: {ChangeEventHeader, ...}, event} or the payload itself",
    )


def _text(header: dict, key: str, header_path: str) -> str:
    value = header.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(join_path(header_path, key), "is required and must be a non-empty string")
    return value.strip()


def _integer(header: dict, key: str, header_path: str) -> int:
    """A signed 64-bit integer (Salesforce sends ``sequenceNumber`` as a number or digits)."""
    value = header.get(key)
    if isinstance(value, str) and ascii_integer(value) is not None:
        value = ascii_integer(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise PayloadError(join_path(header_path, key), "is required and must be an integer")
    number = int(value)
    if not SEQUENCE_MIN <= number <= SEQUENCE_MAX:
        raise PayloadError(join_path(header_path, key), "must fit in a signed 64-bit integer")
    return number


def _name_list(header: dict, key: str, header_path: str) -> list[str] | None:
    value = header.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PayloadError(join_path(header_path, key), "must be a list of field names")
    return value
