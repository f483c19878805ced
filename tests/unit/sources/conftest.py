"""Shared helpers for the source adapter tests (pure: no I/O beyond reading fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.shared.stages import StageMap

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def stage_map() -> StageMap:
    return StageMap.load(ROOT / "services" / "shared" / "stage_maps.toml")


@pytest.fixture
def fixture():
    """Load tests/fixtures/<vendor>/<name>.json."""

    def load(vendor: str, name: str):
        return json.loads((FIXTURES / vendor / f"{name}.json").read_text())

    return load
