"""CRM stage -> journey phase mapping, loaded from a TOML file (configuration, not code)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Phase(StrEnum):
    EARLY = "early"
    MID = "mid"
    LATE = "late"
    WON = "won"
    LOST = "lost"
    UNKNOWN = "unknown"

    @property
    def is_open(self) -> bool:
        return self not in (Phase.WON, Phase.LOST)


class StageMapError(ValueError):
    """The stage map file is missing or malformed."""


@dataclass(frozen=True)
class StageMap:
    """Looks up the phase of a stage, preferring the pipeline of the deal's source."""

    pipelines: dict[str, dict[str, Phase]]
    stage_ids: dict[str, dict[str, str]] = field(default_factory=dict)
    # pipeline -> casefolded stage -> days an open deal may stay in it before it counts as stalled
    stall_days: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str) -> StageMap:
        """Read and validate a stage map file."""
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise StageMapError(f"cannot read stage map {path}: {exc}") from exc
        pipelines: dict[str, dict[str, Phase]] = {}
        for name, stages in raw.get("pipelines", {}).items():
            if not isinstance(stages, dict):
                raise StageMapError(f"{path}: [pipelines.{name}] must be a table of stage = phase")
            table: dict[str, Phase] = {}
            for stage, phase in stages.items():
                try:
                    table[stage.casefold()] = Phase(phase)
                except ValueError:
                    raise StageMapError(
                        f"{path}: pipelines.{name}.{stage!r} = {phase!r} is not one of early, mid, late, won, lost"
                    ) from None
            pipelines[name] = table
        stage_ids = {name: {str(k): str(v) for k, v in ids.items()} for name, ids in raw.get("stage_ids", {}).items()}
        return cls(pipelines=pipelines, stage_ids=stage_ids, stall_days=_stall_days(raw.get("stall_days", {}), path))

    def phase(self, stage: str | None, source: str | None = None) -> Phase:
        """The phase of ``stage``; UNKNOWN when no pipeline names it."""
        if not stage:
            return Phase.UNKNOWN
        key = stage.strip().casefold()
        own = self.pipelines.get(source or "", {})
        if key in own:
            return own[key]
        for table in self.pipelines.values():
            if key in table:
                return table[key]
        return Phase.UNKNOWN

    def stall_days_for(self, stage: str | None, source: str | None = None) -> float | None:
        """Days a deal may stay in ``stage`` before it is stalled; None when no pipeline sets it.

        Looked up like the phase: the pipeline of the deal's source first, then every pipeline."""
        if not stage:
            return None
        key = stage.strip().casefold()
        own = self.stall_days.get(source or "", {})
        if key in own:
            return own[key]
        for table in self.stall_days.values():
            if key in table:
                return table[key]
        return None

    def stage_name(self, source: str, stage_id: str | int) -> str | None:
        """The stage name a source means by a numeric stage id (Pipedrive), if mapped."""
        return self.stage_ids.get(source, {}).get(str(stage_id))


MAX_STALL_DAYS = 3650


def _stall_days(raw: object, path: Path | str) -> dict[str, dict[str, float]]:
    """The [stall_days.<pipeline>] tables: stage = days, each more than 0 and at most ten years."""
    if not isinstance(raw, dict):
        raise StageMapError(f"{path}: [stall_days] must hold tables of stage = days")
    tables: dict[str, dict[str, float]] = {}
    for name, stages in raw.items():
        if not isinstance(stages, dict):
            raise StageMapError(f"{path}: [stall_days.{name}] must be a table of stage = days")
        table: dict[str, float] = {}
        for stage, days in stages.items():
            if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= MAX_STALL_DAYS:
                raise StageMapError(
                    f"{path}: stall_days.{name}.{stage!r} = {days!r} must be a number of days "
                    f"above 0 and at most {MAX_STALL_DAYS}"
                )
            table[stage.casefold()] = float(days)
        tables[name] = table
    return tables
