"""Pipedrive webhooks v2 (deals) -> canonical deal events.

A webhook is ``{meta, data, previous}``; ``meta.action`` is ``create``, ``change`` or
``delete`` and ``meta.entity`` is ``deal``. ``data`` is the deal now; on ``change``,
``previous`` holds the old values of the fields that changed, so exactly those fields
are emitted. A merge arrives as a ``delete`` whose ``meta`` carries ``merged_to_id``.

* ``deal_id`` is ``pipedrive:<meta.entity_id>`` (ids may be strings or numbers).
* ``event_id`` is ``pipedrive:<entity id>:<action>:<hash>`` -- the hash covers the
  event's content (action, entity, id, timestamp, data, previous), not the delivery
  fields (``attempt``, ``webhook_id``...), so a retry is a duplicate.
* ``stage_id`` is named through ``StageMap.stage_name("pipedrive", id)`` (an unmapped
  id passes through as the id); ``status`` won/lost sets stage ``won``/``lost`` and closes
  the deal; status ``deleted`` deletes it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from collections.abc import Mapping
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
    build_event,
    check_field_map,
    choose_type,
    coerce_change,
    content_hash,
    join_path,
    parse_timestamp,
    source_id,
)

DEAL_FIELDS: dict[str, str] = {
    "title": "name",
    "org_name": "account",
    "owner_id": "owner_id",
    "value": "amount",
    "currency": "currency",
    "expected_close_date": "close_date",
    "probability": "probability",
}
"""Deal field in ``data`` -> canonical change name (stage and status are handled apart)."""

ACTIONS = ("create", "change", "delete")
_DELIVERY_FIELDS = (
    "attempt",
    "retry",
    "webhook_id",
    "webhook_owner_id",
    "permitted_user_ids",
    "next_attempt_ts",
    "host",
)


class PipedriveWebhookAdapter(SourceAdapter):
    """Maps Pipedrive webhooks v2 deal events; checks HTTP basic auth when configured."""

    name = "pipedrive"

    def __init__(
        self,
        *,
        stage_map: StageMap,
        user: str | None = None,
        password: str | None = None,
        discount_field: str | None = None,
        custom_fields: Mapping[str, str] | None = None,
        account_from_org_id: bool = True,
    ) -> None:
        """
        :param stage_map: names stage ids (``[stage_ids.pipedrive]``) and finds won/lost.
        :param user: HTTP basic auth user the webhook was created with (``http_auth_user``).
        :param password: ... and its password (``http_auth_password``).
        :param discount_field: key of the custom field (in ``data.custom_fields``) holding
            a requested discount in percent.
        :param custom_fields: more custom field keys to map, e.g. ``{"<hash>": "team"}``.
        :param account_from_org_id: use ``org_id`` as ``account`` when no ``org_name`` is
            sent (v2 payloads carry only the id).
        """
        if (user is None) != (password is None):
            raise ValueError("pipedrive: give both user and password for basic auth, or neither")
        self.stage_map = stage_map
        self.user = user
        self.password = password
        self.auth = SourceAuth(
            "basic",
            ("PR_INGEST_PIPEDRIVE_USER", "PR_INGEST_PIPEDRIVE_PASSWORD"),
            configured=user is not None and password is not None,
        )
        custom = check_field_map(custom_fields or {}, "custom_fields")
        if discount_field:
            custom[discount_field] = "discount_pct"
        self.custom_fields = custom
        self.account_from_org_id = account_from_org_id

    def authenticate(self, request: RawRequest) -> None:
        """Check HTTP basic auth when a user and password are configured."""
        if self.user is None or self.password is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            raise AuthError("pipedrive: HTTP basic auth required")
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("pipedrive: malformed basic auth header") from None
        expected = f"{self.user}:{self.password}".encode()
        if not hmac.compare_digest(given, expected):
            raise AuthError("pipedrive: wrong basic auth credentials")

    # ------------------------------------------------------------------ internals

    def map_item(self, item: Any, base: str, received_at: dt.datetime) -> MappingResult:
        """One webhook (the payload is one or a list of them)."""
        if not isinstance(item, dict):
            raise PayloadError(base or "$", "must be a webhook object {meta, data, previous}")
        result = MappingResult()
        meta_path = join_path(base, "meta")
        meta = item.get("meta")
        if not isinstance(meta, dict):
            raise PayloadError(meta_path, "is required and must be an object")
        version = str(meta.get("version", ""))
        if "current" in item or (version and not version.startswith("2")):
            result.dead_letters.append(
                DeadLetter(f"pipedrive webhooks v{version or '1'} payload: only webhooks v2 is mapped", item)
            )
            return result
        entity = meta.get("entity")
        if not isinstance(entity, str) or not entity:
            raise PayloadError(join_path(meta_path, "entity"), "is required and must be a string")
        action = meta.get("action")
        if not isinstance(action, str) or not action:
            raise PayloadError(join_path(meta_path, "action"), "is required and must be a string")
        data = _object_or_none(item, "data", base)
        previous = _object_or_none(item, "previous", base)
        if entity != "deal":
            result.dead_letters.append(DeadLetter(f"pipedrive entity {entity!r} is not mapped", item))
            return result
        if action not in ACTIONS:
            result.dead_letters.append(DeadLetter(f"pipedrive action {action!r} is not mapped", item))
            return result

        raw_id, id_path = _entity_id(meta, data, previous, base)
        deal_key = source_id(raw_id, id_path)
        occurred_at = self._occurred_at(meta, data, base, received_at)
        fingerprint = content_hash({k: v for k, v in meta.items() if k not in _DELIVERY_FIELDS}, data, previous)
        event_id = f"pipedrive:{deal_key}:{action}:{fingerprint}"

        changes: dict[str, Any] = {}
        paths: dict[str, str] = {}
        if action == "delete":
            event_type = EventType.DELETED
        else:
            if data is None:
                raise PayloadError(join_path(base, "data"), f"is required for action {action!r}")
            only = None if action == "create" or previous is None else previous
            deleted = self._changes(data, only, base, changes, paths)
            if action == "create":
                event_type = EventType.CREATED
            elif deleted:
                event_type = EventType.DELETED
                changes.clear()
            else:
                event_type = choose_type(changes, self.stage_map, self.name)
        if changes.get("discount_pct") and "requested_by" not in changes and meta.get("user_id") is not None:
            changes["requested_by"] = source_id(meta["user_id"], join_path(meta_path, "user_id"))
        result.events.append(
            build_event(
                source=self.name,
                event_id=event_id,
                deal_id=f"pipedrive:{deal_key}",
                occurred_at=occurred_at,
                type=event_type,
                changes=changes,
                paths=paths,
                base_path=join_path(base, "data"),
            )
        )
        return result

    def _occurred_at(self, meta: dict, data: dict | None, base: str, received_at: dt.datetime) -> dt.datetime:
        if meta.get("timestamp") not in (None, ""):
            return parse_timestamp(meta["timestamp"], join_path(base, "meta", "timestamp"))
        if data and data.get("update_time") not in (None, ""):
            return parse_timestamp(data["update_time"], join_path(base, "data", "update_time"))
        return received_at

    def _changes(self, data: dict, previous: dict | None, base: str, changes: dict, paths: dict) -> bool:
        """Fill ``changes`` from ``data``: every known field (create), or those in ``previous``.

        Returns True when the status changed to ``deleted``.
        """
        data_path = join_path(base, "data")

        def changed(key: str) -> bool:
            return key in data and (previous is None or key in previous)

        for key, canonical in DEAL_FIELDS.items():
            if not changed(key):
                continue
            path = join_path(data_path, key)
            value = data[key]
            if previous is None and value is None:
                continue
            if canonical == "owner_id" and isinstance(value, dict):
                value = value.get("id", value.get("value"))
            changes[canonical] = coerce_change(canonical, value, path)
            paths[canonical] = path
        if self.account_from_org_id and "account" not in changes and changed("org_id"):
            value = data["org_id"]
            if isinstance(value, dict):
                value = value.get("name") or value.get("value")
            if value is not None or previous is not None:
                path = join_path(data_path, "org_id")
                changes["account"] = coerce_change("account", value, path)
                paths["account"] = path

        custom = data.get("custom_fields") or {}
        if not isinstance(custom, dict):
            raise PayloadError(join_path(data_path, "custom_fields"), "must be an object")
        prev_custom = (previous or {}).get("custom_fields") or {}
        for key, canonical in self.custom_fields.items():
            if key not in custom or (previous is not None and key not in prev_custom):
                continue
            value = custom[key]
            path = join_path(data_path, "custom_fields", key)
            if isinstance(value, dict):  # v2: {"type": ..., "value": ...}
                value, path = value.get("value"), join_path(path, "value")
            if previous is None and value is None:
                continue
            changes[canonical] = coerce_change(canonical, value, path)
            paths[canonical] = path

        if changed("stage_id") and data["stage_id"] is not None:
            path = join_path(data_path, "stage_id")
            stage_key = source_id(data["stage_id"], path)
            changes["stage"] = self.stage_map.stage_name(self.name, stage_key) or stage_key
            paths["stage"] = path
        if changed("status"):
            status = data["status"]
            if status in ("won", "lost"):
                changes["stage"] = status
                paths["stage"] = join_path(data_path, "status")
            elif status == "deleted":
                return True
            elif status == "open" and previous is not None and "stage" not in changes and data.get("stage_id"):
                # Reopened: restate the current stage so the deal's phase leaves won/lost.
                path = join_path(data_path, "stage_id")
                stage_key = source_id(data["stage_id"], path)
                changes["stage"] = self.stage_map.stage_name(self.name, stage_key) or stage_key
                paths["stage"] = path
        return False


def _object_or_none(item: dict, key: str, base: str) -> dict | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError(join_path(base, key), "must be an object or null")
    return value


def _entity_id(meta: dict, data: dict | None, previous: dict | None, base: str) -> tuple[Any, str]:
    for container, name, key in (
        (meta, "meta", "entity_id"),
        (data, "data", "id"),
        (previous, "previous", "id"),
        (meta, "meta", "id"),
    ):
        if container and container.get(key) not in (None, ""):
            return container[key], join_path(base, name, key)
    raise PayloadError(join_path(base, "meta", "entity_id"), "is required (the deal id)")
