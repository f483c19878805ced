"""Ingest API keys and what each may post.

Keys come from ``PR_INGEST_API_KEYS`` and/or ``PR_INGEST_API_KEYS_FILE``:

- env, JSON: ``[{"key": "k1...", "name": "crm-bridge", "sources": ["api", "salesforce"]}]``;
- env, compact: ``k1...:api|csv,k2...`` (``key[:source1|source2]``; the name is derived);
- file: the same JSON list (or ``{"keys": [...]}``) in ``.json``, or ``[[keys]]`` in ``.toml``.

A key that lists no sources may post ``api`` and ``csv`` only, never a CRM's source name.
The rules on ``deal_id`` stop a forged event from moving a CRM's deal: an event whose
source is a CRM (or plug-in) must carry ``<source>:...``, and an ``api``/``csv`` event may
not carry a deal id prefixed with a CRM's name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.shared.auth import KeyConfigError, KeyTable, check_key, entry_where, load_entries
from services.shared.events import ACTION_TYPES, SOURCE_NAME, DealEvent

KEYS_VARIABLE = "PR_INGEST_API_KEYS"
DEFAULT_SOURCES = frozenset({"api", "csv"})
"""What a key that lists no sources may post."""


@dataclass(frozen=True)
class IngestKey:
    """The principal of an ingest key: a name for logs and metrics, and the sources it may post."""

    name: str
    sources: frozenset[str]

    def may_post(self, source: str) -> bool:
        return source in self.sources


def _compact(fields: list[str], where: str) -> dict[str, Any]:
    if len(fields) not in (1, 2):
        raise KeyConfigError(f"{where}: expected key[:source1|source2]")
    sources = [s for s in fields[1].split("|") if s] if len(fields) == 2 else None
    return {"key": fields[0], "sources": sources, "_where": where}


def _ingest_key(raw: dict[str, Any], index: int) -> tuple[str, IngestKey]:
    where = entry_where(raw, f"{KEYS_VARIABLE} entry {index + 1}")
    key = check_key(raw.get("key"), where)
    sources = raw.get("sources")
    if sources is None or sources == []:
        allowed = DEFAULT_SOURCES
    else:
        if isinstance(sources, str):
            sources = [s for s in sources.split("|") if s]
        if not isinstance(sources, list) or not all(isinstance(s, str) and SOURCE_NAME.match(s) for s in sources):
            raise KeyConfigError(f"{where}: sources must be a list of source names like 'api' or 'salesforce'")
        allowed = frozenset(sources)
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise KeyConfigError(f"{where}: name must be a non-empty string")
    default_name = f"key-{index + 1}:{'|'.join(sorted(allowed))}"
    return key, IngestKey(name=(name or default_name).strip(), sources=allowed)


def ingest_key_table(text: str | None, path: Path | None) -> KeyTable[IngestKey]:
    """The key table from the two settings; empty when neither is set (open mode)."""
    entries = load_entries(text, path, KEYS_VARIABLE, _compact)
    return KeyTable((_ingest_key(raw, i) for i, raw in enumerate(entries)), name_of=lambda k: k.name)


def client_key(text: str | None, path: Path | None, sources: Iterable[str] = DEFAULT_SOURCES) -> str | None:
    """A configured key that may post every one of ``sources`` (for the demo loader and pr-import)."""
    wanted = frozenset(sources)
    return ingest_key_table(text, path).first_key(lambda k: wanted <= k.sources)


def key_for_clients(api_key: str | None, sources: Iterable[str]) -> str | None:
    """The key a local client (``pr-import``, ``pr-demo-alerts``) sends.

    ``api_key`` (``PR_API_KEY`` / ``--api-key``) when given; otherwise the first key in
    ``PR_INGEST_API_KEYS`` / ``PR_INGEST_API_KEYS_FILE`` that may post all of ``sources``,
    so ``make up`` works unchanged once keys are configured; None when ingest runs open.
    """
    if api_key:
        return api_key
    from .settings import IngestSettings  # here: settings are read only when a client runs

    settings = IngestSettings()
    text = settings.api_keys.get_secret_value() if settings.api_keys else None
    return client_key(text, settings.api_keys_file, sources)


class EventRefused(Exception):
    """An event the caller may not post (403) or whose deal id contradicts its source (422)."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.status, self.field, self.message = status, field, message


def check_event(event: DealEvent, where: str, key: IngestKey | None, crm_sources: Collection[str]) -> None:
    """Raise EventRefused unless ``key`` (None in open mode) may post ``event`` as it is."""
    if event.type in ACTION_TYPES:
        # A manager action names its actor; only review, which knows the caller's key, may say who.
        raise EventRefused(
            422,
            f"{where}.type",
            f"{event.type.value} is a manager action: post it through review "
            "(/v1/deals/{id}/reviews, /v1/deals/{id}/help, /v1/alerts/{alert_id}/decision)",
        )
    if key is not None and not key.may_post(event.source):
        raise EventRefused(
            403,
            f"{where}.source",
            f"the key {key.name!r} may not post source {event.source!r} "
            f"(it may post: {', '.join(sorted(key.sources))})",
        )
    prefix, colon, _ = event.deal_id.partition(":")
    if event.source in crm_sources:
        if prefix != event.source or not colon:
            raise EventRefused(
                422,
                f"{where}.deal_id",
                f"an event from source {event.source!r} must carry deal_id '{event.source}:<id>'",
            )
    elif colon and prefix in crm_sources:
        raise EventRefused(
            422,
            f"{where}.deal_id",
            f"deal_id {event.deal_id!r} belongs to source {prefix!r}; "
            f"an event from source {event.source!r} may not change it",
        )
