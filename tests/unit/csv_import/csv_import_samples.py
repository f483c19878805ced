"""Sample data for the CSV import tests (a module of its own so tests can import it)."""

from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MAVEN_DIR = REPO / "data" / "crm-sales-opportunities"  # shipped with the repository

PIPELINE_HEADER = [
    "opportunity_id",
    "sales_agent",
    "product",
    "account",
    "deal_stage",
    "engage_date",
    "close_date",
    "close_value",
]
TEAMS = [
    {"sales_agent": "Moses Frase", "manager": "Dustin Brinkmann", "regional_office": "Central"},
    {"sales_agent": "Darcel Schlecht", "manager": "Melvin Marxen", "regional_office": "Central"},
    {"sales_agent": "James Ascencio", "manager": "Summer Sewald", "regional_office": "West"},
]
PRODUCTS = [
    {"product": "GTX Basic", "series": "GTX", "sales_price": "550"},
    {"product": "GTX Pro", "series": "GTX", "sales_price": "4821"},
    {"product": "MG Advanced", "series": "MG", "sales_price": "3393"},
]
SAMPLE_ROWS = [
    ["1C1I7A6R", "Moses Frase", "GTX Basic", "Cancity", "Won", "2016-10-20", "2017-03-01", "540"],
    ["Z063OYW0", "Darcel Schlecht", "GTXPro", "Isdom", "Lost", "2016-10-25", "2017-03-11", "0"],
    ["HAXMC4IX", "James Ascencio", "MG Advanced", "", "Engaging", "2016-11-03", "", ""],
    ["6CWZFOHJ", "Moses Frase", "GTX Basic", "Green-Plus", "Prospecting", "", "", ""],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]] | list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        if rows and isinstance(rows[0], dict):
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        else:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return path


def row(values: list[str]) -> dict[str, str]:
    """A pipeline row as csv.DictReader gives it."""
    return dict(zip(PIPELINE_HEADER, values, strict=True))
