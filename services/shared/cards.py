"""The deal card: what scoring writes to ``p:deal:<deal_id>`` and review serves at ``GET /v1/deals/{id}``.

A TypedDict rather than a model: the card is built and read on the scoring hot path as plain JSON
(orjson), and a typed dict costs nothing there. Keys starting with ``_`` are the writer's own
bookkeeping and are never served.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ListView(TypedDict):
    """A card's view for one list: its score, the score's parts and the cadence questions."""

    score: float
    score_parts: dict[str, Any]
    questions: list[dict[str, str]]


class DiscountView(TypedDict, total=False):
    discount_pct: float | None  # requested, or granted once a decision approved or countered it
    discount_reason: str | None
    requested_by: str | None
    decision: str | None  # approved, rejected or countered (POST /v1/alerts/{alert_id}/decision)
    decided_by: str | None
    alert_id: str | None


class DealCard(TypedDict, total=False):
    """One deal's current state, phase, both list views and its event timeline."""

    deal_id: str
    name: str
    account: str
    owner_id: str
    owner_name: str
    team: str
    manager_id: str
    stage: str
    phase: str  # early, mid, late, won, lost, unknown, or deleted
    status: str
    amount: float
    currency: str
    potential_value: float
    close_date: str | None
    probability: float | None
    qualification: dict[str, str]
    leader: ListView
    manager: ListView
    discount: DiscountView
    next_step: str | None
    competitors: list[str]
    timeline: list[dict[str, Any]]
