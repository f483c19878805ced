"""The column map of a CSV import: which column holds which canonical field (TOML)."""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).with_name("maven_crm.toml")

# Canonical fields a column may feed. Most are DealChanges fields; the others are inputs
# to the derivation: product (for the name), engage_date (when work started), list_price
# (value of open deals).
COLUMN_FIELDS = (
    "id",
    "stage",
    "owner_id",
    "owner_name",
    "account",
    "product",
    "team",
    "manager_id",
    "engage_date",
    "close_date",
    "amount",
    "list_price",
)
REQUIRED_COLUMNS = ("id", "stage")
JOIN_FIELDS = ("owner_name", "account", "team", "manager_id", "list_price")
NAME_FIELDS = ("id", "stage", "owner_id", "owner_name", "account", "product", "team", "manager_id")


class ConfigError(ValueError):
    """The column map (or a file it names) cannot be used."""


@dataclass(frozen=True)
class JoinSpec:
    """A lookup table joined to each row: ``on`` (main file) = ``key`` (joined file)."""

    name: str
    file: str
    on: str
    key: str
    fields: dict[str, str]
    required: bool = False


@dataclass(frozen=True)
class ImportConfig:
    """A validated column map."""

    columns: dict[str, str]
    open_stages: tuple[str, ...]
    won_stages: tuple[str, ...]
    lost_stages: tuple[str, ...]
    name_templates: tuple[str, ...] = ("{id}",)
    joins: dict[str, JoinSpec] = field(default_factory=dict)
    currency: str | None = None
    prospecting_window_days: int = 30
    default_cycle_days: int = 60
    qualification_levels: dict[str, float] = field(default_factory=dict)

    def column(self, canonical: str) -> str | None:
        """The CSV column feeding a canonical field, if mapped."""
        return self.columns.get(canonical)

    def qualification_level(self, stage: str) -> float:
        """Share of qualification items known in an open stage (0 when not configured)."""
        return self.qualification_levels.get(stage.casefold(), 0.0)


def load_config(path: Path | str | None = None) -> ImportConfig:
    """Read a column map file; the Maven CRM map when ``path`` is None."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read column map {path}: {exc}") from exc
    return parse_config(raw, origin=str(path))


def parse_config(raw: dict[str, Any], origin: str = "<config>") -> ImportConfig:
    """Validate a parsed column map."""

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{origin}: {message}")

    columns = _table(raw, "columns", fail)
    for canonical, column in columns.items():
        if canonical not in COLUMN_FIELDS:
            raise fail(f"columns.{canonical}: unknown field; use one of {', '.join(COLUMN_FIELDS)}")
        if not isinstance(column, str) or not column:
            raise fail(f"columns.{canonical} must be a column name")
    for canonical in REQUIRED_COLUMNS:
        if canonical not in columns:
            raise fail(f"columns.{canonical} is required")

    stages = _table(raw, "stages", fail)
    open_stages = _names(stages, "open", fail, required=True)
    won_stages = _names(stages, "won", fail)
    lost_stages = _names(stages, "lost", fail)
    seen: set[str] = set()
    for stage in (*open_stages, *won_stages, *lost_stages):
        if stage.casefold() in seen:
            raise fail(f"stage {stage!r} is listed twice in [stages]")
        seen.add(stage.casefold())

    templates = tuple(_table(raw, "name", fail, required=False).get("templates", ["{id}"]))
    for template in templates:
        _check_template(template, fail)

    joins: dict[str, JoinSpec] = {}
    for name, spec in _table(raw, "joins", fail, required=False).items():
        if not isinstance(spec, dict):
            raise fail(f"[joins.{name}] must be a table")
        try:
            join = JoinSpec(
                name=name,
                file=str(spec["file"]),
                on=str(spec["on"]),
                key=str(spec["key"]),
                fields={str(k): str(v) for k, v in dict(spec["fields"]).items()},
                required=bool(spec.get("required", False)),
            )
        except KeyError as exc:
            raise fail(f"joins.{name}.{exc.args[0]} is required") from None
        for target in join.fields:
            if target not in JOIN_FIELDS:
                raise fail(f"joins.{name}.fields.{target}: use one of {', '.join(JOIN_FIELDS)}")
            if target in columns:
                raise fail(f"{target} is fed both by columns.{target} and by joins.{name}")
        joins[name] = join

    currency = raw.get("currency")
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", str(currency)):
        raise fail(f"currency {currency!r} is not a three-letter ISO code")

    synthetic = _table(raw, "synthetic", fail, required=False)
    levels_raw = synthetic.get("qualification", {})
    levels: dict[str, float] = {}
    for stage, level in levels_raw.items():
        if stage.casefold() not in {s.casefold() for s in open_stages}:
            raise fail(f"synthetic.qualification.{stage}: not an open stage")
        if not isinstance(level, int | float) or not 0 <= level <= 1:
            raise fail(f"synthetic.qualification.{stage} must be a number from 0 to 1")
        levels[stage.casefold()] = float(level)

    window = synthetic.get("prospecting_window_days", 30)
    cycle = synthetic.get("default_cycle_days", 60)
    for key, value in (("prospecting_window_days", window), ("default_cycle_days", cycle)):
        if not isinstance(value, int) or value < 1:
            raise fail(f"synthetic.{key} must be a positive whole number of days")

    return ImportConfig(
        columns=dict(columns),
        open_stages=open_stages,
        won_stages=won_stages,
        lost_stages=lost_stages,
        name_templates=templates,
        joins=joins,
        currency=currency,
        prospecting_window_days=window,
        default_cycle_days=cycle,
        qualification_levels=levels,
    )


def _table(raw: dict, key: str, fail, *, required: bool = True) -> dict:
    value = raw.get(key)
    if value is None:
        if required:
            raise fail(f"[{key}] is required")
        return {}
    if not isinstance(value, dict):
        raise fail(f"[{key}] must be a table")
    return value


def _names(table: dict, key: str, fail, *, required: bool = False) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"stages.{key} must be a list of stage names")
    if required and not value:
        raise fail(f"stages.{key} needs at least one stage")
    return tuple(value)


def _check_template(template: object, fail) -> None:
    if not isinstance(template, str) or not template:
        raise fail("name.templates must be a list of non-empty strings")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise fail(f"name template {template!r}: {exc}") from None
    for _, placeholder, spec, conversion in parsed:
        if placeholder is None:
            continue
        if placeholder not in NAME_FIELDS or spec or conversion:
            raise fail(f"name template {template!r}: use plain placeholders from {', '.join(NAME_FIELDS)}")
