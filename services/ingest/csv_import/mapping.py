"""CSV rows to deals: apply the column map and the joins, reject what cannot be used.

Pure: rows come in as ``(row_number, {column: value})`` pairs, where the row number is
the one a spreadsheet shows (the header is row 1). Every rejection names the row and the
column at fault.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .config import ConfigError, ImportConfig, JoinSpec

MAX_ID_LENGTH = 150  # deal_id is "csv:<id>" and event ids add a suffix; the contract allows 200


class Outcome(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class Deal:
    """One accepted row, in canonical terms, before any event is derived."""

    row: int
    source_id: str
    stage: str
    outcome: Outcome
    name: str
    open_index: int = 0  # position of the stage in the open path (closed deals: the last)
    owner_id: str | None = None
    owner_name: str | None = None
    account: str | None = None
    product: str | None = None
    team: str | None = None
    manager_id: str | None = None
    engage_date: dt.date | None = None
    close_date: dt.date | None = None
    amount: float | None = None
    list_price: float | None = None

    @property
    def booked_amount(self) -> float | None:
        """The deal's amount in its final state (won: as booked; else the value at stake)."""
        if self.amount is not None and (self.amount > 0 or self.outcome is Outcome.WON):
            return self.amount
        return self.list_price if self.list_price is not None else self.amount

    @property
    def open_amount(self) -> float | None:
        """The deal's amount while it was open: its list price when known."""
        if self.outcome is Outcome.OPEN:
            return self.booked_amount
        return self.list_price if self.list_price is not None else self.amount


@dataclass(frozen=True)
class Rejection:
    """Why a row was not imported."""

    row: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class MappingResult:
    """Accepted deals (in file order) and rejected rows."""

    rows_read: int = 0
    deals: list[Deal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def normalise_key(value: str) -> str:
    """Join key: case, spaces and punctuation ignored, so "GTXPro" matches "GTX Pro"."""
    return re.sub(r"[\W_]+", "", value).casefold()


@dataclass(frozen=True)
class Lookup:
    """A joined table, indexed by its normalised key."""

    spec: JoinSpec
    rows: dict[str, dict[str, str]]

    def find(self, value: str) -> dict[str, str] | None:
        """The joined fields for a key value, or None."""
        return self.rows.get(normalise_key(value))


def build_lookup(spec: JoinSpec, header: Sequence[str], rows: Iterable[Mapping[str, str]]) -> Lookup:
    """Index a joined file; its key must be unique after normalisation."""
    missing = [c for c in (spec.key, *spec.fields.values()) if c not in header]
    if missing:
        raise ConfigError(f"join {spec.name!r}: {spec.file} has no column {', '.join(map(repr, missing))}")
    index: dict[str, dict[str, str]] = {}
    for row in rows:
        raw_key = (row.get(spec.key) or "").strip()
        if not raw_key:
            continue
        key = normalise_key(raw_key)
        if key in index:
            raise ConfigError(f"join {spec.name!r}: key {raw_key!r} appears twice in {spec.file}")
        index[key] = {target: (row.get(column) or "").strip() for target, column in spec.fields.items()}
    return Lookup(spec, index)


def check_header(header: Sequence[str], config: ImportConfig) -> None:
    """Fail early when a mapped column is not in the file."""
    wanted = [(canonical, column) for canonical, column in config.columns.items()]
    wanted += [(f"joins.{j.name}.on", j.on) for j in config.joins.values()]
    missing = [f"{column!r} (for {canonical})" for canonical, column in wanted if column not in header]
    if missing:
        raise ConfigError(f"the file has no column {', '.join(missing)}; its header is {', '.join(header)}")


class _Reject(Exception):
    def __init__(self, column: str | None, reason: str):
        self.column, self.reason = column, reason


def map_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]],
    config: ImportConfig,
    lookups: Mapping[str, Lookup] | None = None,
) -> MappingResult:
    """Map rows to deals; a later row with an id seen before is rejected."""
    lookups = lookups or {}
    missing = set(config.joins) - set(lookups)
    if missing:
        raise ConfigError(f"no table loaded for join {', '.join(sorted(missing))}")
    stages = _StageIndex(config)
    result = MappingResult()
    first_seen: dict[str, int] = {}
    for row_number, row in rows:
        result.rows_read += 1
        try:
            deal = _map_row(row_number, row, config, lookups, stages)
            if deal.source_id in first_seen:
                first = first_seen[deal.source_id]
                raise _Reject(config.columns["id"], f"duplicate id {deal.source_id!r} (first in row {first})")
        except _Reject as exc:
            result.rejected.append(Rejection(row_number, exc.column, exc.reason))
            continue
        first_seen[deal.source_id] = row_number
        result.deals.append(deal)
    return result


class _StageIndex:
    def __init__(self, config: ImportConfig):
        self.by_key: dict[str, tuple[str, Outcome, int]] = {}
        last_open = len(config.open_stages) - 1
        for i, stage in enumerate(config.open_stages):
            self.by_key[stage.casefold()] = (stage, Outcome.OPEN, i)
        for stage in config.won_stages:
            self.by_key[stage.casefold()] = (stage, Outcome.WON, last_open)
        for stage in config.lost_stages:
            self.by_key[stage.casefold()] = (stage, Outcome.LOST, last_open)
        self.known = ", ".join((*config.open_stages, *config.won_stages, *config.lost_stages))


def _map_row(
    row_number: int,
    row: Mapping[str, str],
    config: ImportConfig,
    lookups: Mapping[str, Lookup],
    stages: _StageIndex,
) -> Deal:
    values: dict[str, str] = {}
    for canonical, column in config.columns.items():
        value = (row.get(column) or "").strip()
        if any(ord(ch) < 32 for ch in value):
            raise _Reject(column, "contains control characters")
        if len(value) > 500:
            raise _Reject(column, "is longer than 500 characters")
        if value:
            values[canonical] = value

    id_column = config.columns["id"]
    source_id = values.get("id")
    if not source_id:
        raise _Reject(id_column, "is empty; every row needs an id")
    if len(source_id) > MAX_ID_LENGTH:
        raise _Reject(id_column, f"is longer than {MAX_ID_LENGTH} characters")

    stage_column = config.columns["stage"]
    raw_stage = values.get("stage")
    if not raw_stage:
        raise _Reject(stage_column, "is empty")
    try:
        stage, outcome, open_index = stages.by_key[raw_stage.casefold()]
    except KeyError:
        raise _Reject(stage_column, f"{raw_stage!r} is not a stage of this map ({stages.known})") from None

    for spec in config.joins.values():
        key = (row.get(spec.on) or "").strip()
        found = lookups[spec.name].find(key) if key else None
        if found is None:
            if spec.required:
                what = f"{key!r} is not in {spec.file}" if key else f"is empty; needed to join {spec.file}"
                raise _Reject(spec.on, what)
            continue
        values.update({target: value for target, value in found.items() if value})

    engage_date = _date(values, config, "engage_date")
    close_date = _date(values, config, "close_date")
    if outcome is not Outcome.OPEN and close_date is None:
        raise _Reject(config.column("close_date") or stage_column, f"is empty; a {stage} deal needs a close date")
    if engage_date and close_date and close_date < engage_date:
        raise _Reject(config.column("close_date"), f"{close_date} is before the engage date {engage_date}")

    amount = _money(values, "amount", config.column("amount") or "amount")
    list_price = _money(values, "list_price", _list_price_source(config))

    return Deal(
        row=row_number,
        source_id=source_id,
        stage=stage,
        outcome=outcome,
        open_index=open_index,
        name=_name(config.name_templates, {**values, "stage": stage}, source_id),
        owner_id=values.get("owner_id"),
        owner_name=values.get("owner_name"),
        account=values.get("account"),
        product=values.get("product"),
        team=values.get("team"),
        manager_id=values.get("manager_id"),
        engage_date=engage_date,
        close_date=close_date,
        amount=amount,
        list_price=list_price,
    )


def _date(values: dict[str, str], config: ImportConfig, canonical: str) -> dt.date | None:
    raw = values.get(canonical)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise _Reject(config.column(canonical), f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _money(values: dict[str, str], canonical: str, column: str) -> float | None:
    raw = values.get(canonical)
    if raw is None:
        return None
    try:
        amount = float(raw)
    except ValueError:
        raise _Reject(column, f"{raw!r} is not a number") from None
    if not math.isfinite(amount) or amount < 0 or amount > 1e15:
        raise _Reject(column, f"{raw!r} is not an amount from 0 to 1e15")
    return amount


def _list_price_source(config: ImportConfig) -> str:
    for spec in config.joins.values():
        if "list_price" in spec.fields:
            return f"{spec.file}:{spec.fields['list_price']}"
    return config.column("list_price") or "list_price"


def _name(templates: Sequence[str], values: Mapping[str, str], source_id: str) -> str:
    for template in templates:
        try:
            name = template.format_map(_Strict(values))
        except KeyError:
            continue
        return name[:500]
    return source_id


class _Strict(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)
