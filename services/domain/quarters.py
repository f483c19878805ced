"""Calendar quarters: labels (2026Q4), their days, the manager list's horizon (pure)."""

from __future__ import annotations

import datetime as dt


def quarter_of(day: dt.date) -> str:
    """Calendar quarter label, e.g. 2026Q4."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_index(day: dt.date) -> int:
    """Quarters since year 0, so that a later quarter is a larger number."""
    return day.year * 4 + (day.month - 1) // 3


def quarter_bounds(label: str) -> tuple[dt.date, dt.date]:
    """First and last day of a quarter label."""
    year, q = int(label[:4]), int(label[5:])
    first = dt.date(year, 3 * (q - 1) + 1, 1)
    nxt = dt.date(year + (q == 4), (3 * q) % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def manager_horizon(today: dt.date, quarters: int = 1) -> list[str]:
    """The quarters the manager list covers: the current one and the next ``quarters - 1``."""
    labels = []
    year, q = today.year, (today.month - 1) // 3 + 1
    for _ in range(max(1, quarters)):
        labels.append(f"{year}Q{q}")
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return labels


def previous_quarter(label: str) -> str:
    """The quarter before ``label``."""
    year, q = int(label[:4]), int(label[5:])
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"
