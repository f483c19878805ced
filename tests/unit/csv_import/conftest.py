"""Fixtures for the CSV import tests: a small hand-written dataset and the Maven one."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.csv_import.config import ImportConfig, load_config
from services.ingest.csv_import.mapping import Lookup, build_lookup
from tests.unit.csv_import.csv_import_samples import MAVEN_DIR, PIPELINE_HEADER, PRODUCTS, SAMPLE_ROWS, TEAMS, write_csv


@pytest.fixture
def config() -> ImportConfig:
    return load_config()


@pytest.fixture
def lookups(config: ImportConfig) -> dict[str, Lookup]:
    return {
        "teams": build_lookup(config.joins["teams"], list(TEAMS[0]), TEAMS),
        "products": build_lookup(config.joins["products"], list(PRODUCTS[0]), PRODUCTS),
    }


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """The sample rows laid out as the Maven files are: pipeline, teams, products."""
    write_csv(tmp_path / "sales_pipeline.csv", PIPELINE_HEADER, SAMPLE_ROWS)
    write_csv(tmp_path / "sales_teams.csv", list(TEAMS[0]), TEAMS)
    write_csv(tmp_path / "products.csv", list(PRODUCTS[0]), PRODUCTS)
    return tmp_path


@pytest.fixture(scope="session")
def maven_dir() -> Path:
    assert (MAVEN_DIR / "sales_pipeline.csv").is_file(), f"the Maven CRM dataset is missing from {MAVEN_DIR}"
    return MAVEN_DIR


@pytest.fixture(scope="session")
def maven_mapped(maven_dir: Path):
    from services.ingest.csv_import.cli import load_lookups, read_csv
    from services.ingest.csv_import.mapping import map_rows

    config = load_config()
    lookups = load_lookups(config, maven_dir / "sales_pipeline.csv", {})
    _, rows = read_csv(maven_dir / "sales_pipeline.csv")
    return map_rows(rows, config, lookups)
