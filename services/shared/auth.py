"""API-key tables and the open-mode decision, shared by ingest and review.

The pieces are generic: a service says what one key entry means (ingest: the sources a
key may post; review: a role and teams) by giving a function that turns a raw entry
(a dict) into its principal, and gets back a :class:`KeyTable` that looks keys up by
their sha256 digest.

Key text (an env var) is a JSON list of objects (or ``{"keys": [...]}``), or compact
entries separated by commas whose fields are separated by ``:``; a key file is the same
JSON in a ``.json`` file, or ``[[keys]]`` tables in a ``.toml`` file.

A key is read from ``X-API-Key`` or ``Authorization: Bearer`` only: a query string ends
up in access logs and browser history.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MIN_KEY_LENGTH = 8


class KeyConfigError(ValueError):
    """The API key configuration is malformed; the message names the variable or file."""


def key_digest(key: str) -> str:
    """The sha256 hex digest a key is stored and looked up by."""
    # The table never holds keys in clear, and a dict lookup by digest leaks nothing useful
    # through timing.
    return hashlib.sha256(key.encode()).hexdigest()


def parse_keys_text(text: str, where: str, compact: Callable[[list[str], str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw entries from an env value: a JSON list (or ``{"keys": [...]}``), or compact entries.

    ``compact(fields, where)`` turns one compact entry, already split on ``:``, into the
    same dict a JSON entry would be; ``where`` names the variable in errors.
    """
    text = text.strip()
    if not text:
        return []
    if text.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise KeyConfigError(f"{where}: not valid JSON: {exc}") from None
        return raw_entries(data, where)
    out = []
    for index, part in enumerate(p.strip() for p in text.split(",")):
        if part:
            out.append(compact(part.split(":"), f"{where} entry {index + 1}"))
    return out


def load_keys_file(path: Path | str) -> list[dict[str, Any]]:
    """Raw entries from a ``.json`` file (a list or ``{"keys": [...]}``) or a ``.toml`` file (``[[keys]]``)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise KeyConfigError(f"cannot read API key file {path}: {exc}") from None
    try:
        data = tomllib.loads(text) if str(path).endswith(".toml") else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise KeyConfigError(f"{path}: {exc}") from None
    return raw_entries(data, str(path))


def raw_entries(data: Any, where: str) -> list[dict[str, Any]]:
    """Check the shape of parsed key data: a list of objects, each with a long enough ``key``."""
    if isinstance(data, dict):
        data = data.get("keys", [])
    if not isinstance(data, list):
        raise KeyConfigError(f"{where}: expected a list of keys")
    out = []
    for index, raw in enumerate(data):
        entry_where = f"{where} entry {index + 1}"
        if not isinstance(raw, dict):
            raise KeyConfigError(f"{entry_where}: each key must be an object with a key")
        check_key(raw.get("key"), entry_where)
        out.append({**raw, "_where": entry_where})
    return out


def check_key(key: Any, where: str) -> str:
    """The key as text, or KeyConfigError when it is missing or too short to be a secret."""
    if not isinstance(key, str) or len(key.strip()) < MIN_KEY_LENGTH:
        raise KeyConfigError(f"{where}: key must be a string of at least {MIN_KEY_LENGTH} characters")
    return key.strip()


def entry_where(raw: Mapping[str, Any], default: str) -> str:
    """Where a raw entry came from (``PR_X_API_KEYS entry 2``), for error messages."""
    return str(raw.get("_where") or default)


class KeyTable(Generic[T]):
    """Resolves an API key to its principal by digest; empty means no key is configured."""

    def __init__(self, entries: Iterable[tuple[str, T]], name_of: Callable[[T], str] = str):
        self._by_digest: dict[str, T] = {}
        self._keys: list[tuple[str, T]] = []
        for key, principal in entries:
            digest = key_digest(key)
            if digest in self._by_digest:
                raise KeyConfigError(f"API key of {name_of(principal)!r} is configured twice")
            self._by_digest[digest] = principal
            self._keys.append((key, principal))

    @property
    def empty(self) -> bool:
        return not self._by_digest

    def __len__(self) -> int:
        return len(self._by_digest)

    def resolve(self, key: str | None) -> T | None:
        """The principal of ``key``; None when the key is missing or unknown."""
        if not key:
            return None
        return self._by_digest.get(key_digest(key))

    def first_key(self, wanted: Callable[[T], bool]) -> str | None:
        """The first configured key whose principal is ``wanted`` (a client picking its own key)."""
        return next((key for key, principal in self._keys if wanted(principal)), None)


def load_entries(
    text: str | None, path: Path | None, where: str, compact: Callable[[list[str], str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Raw entries from the env text and the key file together."""
    entries = parse_keys_text(text, where, compact) if text else []
    if path is not None:
        entries += load_keys_file(path)
    return entries


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer`` (header names lower-cased)."""
    given = headers.get("x-api-key", "").strip()
    if given:
        return given
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


# ------------------------------------------------------------------ open mode


class OpenModeRefused(RuntimeError):
    """The service would run without credentials on an address others can reach."""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def decide_open_mode(
    *, service: str, host: str, credentials_configured: bool, keys_variable: str, allow_open: bool, log: logging.Logger
) -> bool:
    """True when the service runs open (no credentials); raises OpenModeRefused when it must not start.

    Open on a loopback address is the laptop demo and is logged loudly; on any other
    address it needs ``PR_ALLOW_OPEN=true``, and then a warning is logged at every start.
    """
    if credentials_configured:
        return False
    if is_loopback_host(host):
        log.warning(
            "%s runs OPEN: no API keys configured (%s); every caller on %s is trusted. Set %s to require keys.",
            service,
            keys_variable,
            host,
            keys_variable,
        )
        return True
    if allow_open:
        log.warning(
            "%s runs OPEN on %s, which is not a loopback address: PR_ALLOW_OPEN=true and no %s. "
            "Anyone who can reach it can call it without a key.",
            service,
            host,
            keys_variable,
        )
        return True
    raise OpenModeRefused(
        f"{service} refuses to start: bound to {host}, which is not a loopback address, with no API keys. "
        f"Configure {keys_variable} (or {keys_variable}_FILE), bind to 127.0.0.1, or set PR_ALLOW_OPEN=true "
        f"to run open on purpose."
    )
