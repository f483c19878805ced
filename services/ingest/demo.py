"""``pr-demo-alerts``: a few late-stage deals and the discounts asked on them, for the demo,
and a few deals that moved: a pushed close date, stalled early deals, a late deal with a
qualification gap (docs/movement.md).

The Maven dataset has no late stages, so on its own it would leave the alert feed empty.
These deals use the Salesforce default stages and close this quarter, so they also show
on the manager list; event ids are fixed, so loading the demo twice changes nothing.
"""

from __future__ import annotations

import datetime as dt

import httpx
import typer

from services.domain.lists import quarter_bounds, quarter_of

from .auth import key_for_clients

DEMO_DEALS = [
    # deal, account, owner, team, manager, stage, amount, discount %, reason
    (
        "Enterprise renewal",
        "Hooli",
        "Darcel Schlecht",
        "Central",
        "Dustin Brinkmann",
        "Negotiation/Review",
        480_000,
        15,
        "competitor offer",
    ),
    (
        "Premium support",
        "Cyberdyne",
        "Vicki Laflamme",
        "West",
        "Celia Rouche",
        "Proposal/Price Quote",
        150_000,
        20,
        "budget cut",
    ),
    (
        "Seat expansion",
        "Soylent",
        "Maureen Marcano",
        "East",
        "Cara Losch",
        "Negotiation/Review",
        310_000,
        8,
        "end of quarter",
    ),
    (
        "Analytics add-on",
        "Tyrell",
        "Corliss Cosme",
        "East",
        "Cara Losch",
        "Value Proposition",
        90_000,
        10,
        "pilot pricing",
    ),
]


def demo_events(today: dt.date) -> list[dict]:
    """Canonical events: each deal created in its stage yesterday, then a discount requested on it."""
    _, quarter_end = quarter_bounds(quarter_of(today))
    # Yesterday morning: dated today at 08:00 they would lie in the future before then,
    # and ingest refuses events later than now (PR_INGEST_MAX_CLOCK_SKEW).
    start = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(8, 0), dt.UTC)
    events = []
    for i, (name, account, owner, team, manager, stage, amount, pct, reason) in enumerate(DEMO_DEALS):
        deal_id = f"api:demo-{i + 1}"
        close = min(today + dt.timedelta(days=10 + 7 * i), quarter_end)
        events.append(
            {
                "event_id": f"demo-{i + 1}-created",
                "source": "api",
                "deal_id": deal_id,
                "type": "deal.created",
                "occurred_at": (start + dt.timedelta(minutes=i)).isoformat(),
                "changes": {
                    "name": name,
                    "account": account,
                    "owner_id": owner,
                    "owner_name": owner,
                    "team": team,
                    "manager_id": manager,
                    "stage": stage,
                    "amount": amount,
                    "currency": "USD",
                    "close_date": close.isoformat(),
                    "qualification": {"economic_buyer": "known", "champion": "known", "pain": "known"},
                },
            }
        )
        events.append(
            {
                "event_id": f"demo-{i + 1}-discount",
                "source": "api",
                "deal_id": deal_id,
                "type": "deal.discount_requested",
                "occurred_at": (start + dt.timedelta(minutes=30 + i)).isoformat(),
                "changes": {"discount_pct": pct, "discount_reason": reason, "requested_by": owner},
            }
        )
    return events


MOVEMENT_DEALS = [
    # deal, account, owner, team, manager, stage, amount, potential value, days since created
    (
        "Platform migration",
        "Globex",
        "Darcel Schlecht",
        "Central",
        "Dustin Brinkmann",
        "Value Proposition",
        260_000,
        None,
        6,
    ),
    ("Data platform", "Initech", "Vicki Laflamme", "West", "Celia Rouche", "Prospecting", 120_000, 900_000, 25),
    (
        "Global rollout",
        "Wayne Enterprises",
        "Maureen Marcano",
        "East",
        "Cara Losch",
        "Needs Analysis",
        200_000,
        1_200_000,
        34,
    ),
    ("Security suite", "Umbrella", "Corliss Cosme", "East", "Cara Losch", "Needs Analysis", 175_000, None, 9),
]


def movement_demo_events(today: dt.date) -> list[dict]:
    """A close date pushed out of the quarter, two early deals stalled past their stage's limit,
    and a deal moved into a late stage with its economic buyer still unknown."""
    morning = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(8, 0), dt.UTC)
    # The quarter of the push itself: the close date it moves from must be inside that day's horizon.
    _, quarter_end = quarter_bounds(quarter_of(morning.date()))
    events = []
    for i, (name, account, owner, team, manager, stage, amount, potential, age) in enumerate(MOVEMENT_DEALS):
        deal_id = f"api:demo-move-{i + 1}"
        changes = {
            "name": name,
            "account": account,
            "owner_id": owner,
            "owner_name": owner,
            "team": team,
            "manager_id": manager,
            "stage": stage,
            "amount": amount,
            "currency": "USD",
            "close_date": (quarter_end if i != 1 and i != 2 else quarter_end + dt.timedelta(days=60)).isoformat(),
            "qualification": {"champion": "known", "pain": "known"},
        }
        if potential:
            changes["potential_value"] = potential
        events.append(
            {
                "event_id": f"demo-move-{i + 1}-created",
                "source": "api",
                "deal_id": deal_id,
                "type": "deal.created",
                "occurred_at": (morning - dt.timedelta(days=age)).isoformat(),
                "changes": changes,
            }
        )
    events.append(
        {
            "event_id": "demo-move-1-pushed",
            "source": "api",
            "deal_id": "api:demo-move-1",
            "type": "deal.updated",
            "occurred_at": (morning + dt.timedelta(hours=1)).isoformat(),
            "changes": {"close_date": (quarter_end + dt.timedelta(days=45)).isoformat()},
        }
    )
    events.append(
        {
            "event_id": "demo-move-4-late",
            "source": "api",
            "deal_id": "api:demo-move-4",
            "type": "deal.stage_changed",
            "occurred_at": (morning + dt.timedelta(hours=2)).isoformat(),
            "changes": {"stage": "Negotiation/Review"},
        }
    )
    return events


def main(
    ingest_url: str = typer.Option("http://127.0.0.1:8001", help="Base URL of ingest."),
    api_key: str | None = typer.Option(
        None,
        envvar="PR_API_KEY",
        help="Ingest key; default: the first key in PR_INGEST_API_KEYS(_FILE) that may post source api.",
    ),
) -> None:
    """Post the demo's late-stage deals and discount requests to ingest."""
    api_key = key_for_clients(api_key, {"api"})
    headers = {"X-API-Key": api_key} if api_key else {}
    events = demo_events(dt.date.today()) + movement_demo_events(dt.date.today())
    answer = httpx.post(f"{ingest_url}/v1/events", json=events, headers=headers, timeout=60)
    if answer.status_code != 202:
        typer.echo(f"ingest refused the demo alerts: {answer.status_code} {answer.text[:300]}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"posted {len(events)} demo events: {len(DEMO_DEALS)} deals with discount requests, "
        f"{len(MOVEMENT_DEALS)} that moved (pushed, stalled, qualification gap)"
    )


def run() -> None:
    typer.run(main)
