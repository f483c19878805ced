"""``pr-demo-actions``: three demo managers with different habits act through review, so the
scorecard of `make up` is not empty (docs/scorecard.md).

- Cara Losch works like a leader: reviews and help on the early, high-potential deals, and she
  rejects a discount on a late deal.
- Dustin Brinkmann works like a manager: reviews of the must-win deals, and he approves the
  discount asked on one.
- Celia Rouche is mixed: help on an early deal, and a counter-offer on a late discount.

They act on the demo deals of ``pr-demo-alerts`` (services/ingest/demo.py). In open mode each
action names its actor in ``by``; with review keys the actor would be the key's name, so the
demo actions are left out then. An actor that already has a scorecard this quarter is not
replayed: loading the demo twice does not double anyone's actions.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import typer

LEADER, MANAGER, MIXED = "Cara Losch", "Dustin Brinkmann", "Celia Rouche"

# (actor, deal id, route, body); "alert:" routes decide the late-stage alert raised on that deal.
DEMO_ACTIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    (LEADER, "api:demo-move-3", "reviews", {"questions": ["Who signs, and have we met them?"], "note": "cadence call"}),
    (LEADER, "api:demo-move-3", "help", {"kind": "access", "note": "introduce our CFO to theirs"}),
    (LEADER, "api:demo-move-2", "reviews", {"questions": ["How can I help you assess whether this is winnable?"]}),
    (LEADER, "api:demo-move-2", "help", {"kind": "qualification"}),
    (LEADER, "api:demo-3", "decision", {"decision": "rejected", "note": "sell the value, not the price"}),
    (MANAGER, "api:demo-1", "reviews", {"questions": ["Are you sure it closes as forecast?"]}),
    (MANAGER, "api:demo-2", "reviews", {"questions": ["How can I help to close the deal?"]}),
    (MANAGER, "api:demo-1", "decision", {"decision": "approved", "note": "must win this quarter"}),
    (MIXED, "api:demo-move-4", "reviews", {"questions": ["Who is the economic buyer?"]}),
    (MIXED, "api:demo-move-2", "help", {"kind": "executive_sponsor"}),
    (MIXED, "api:demo-2", "decision", {"decision": "countered", "discount_pct": 10}),
]


def requests_for(alert_ids: dict[str, str], done: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of every demo action of the actors not in ``done``; ``alert_ids``: deal id -> late-stage alert id."""
    out = []
    for actor, deal_id, route, body in DEMO_ACTIONS:
        if actor in done:
            continue
        if route == "decision":
            if deal_id not in alert_ids:
                continue
            path = f"/v1/alerts/{alert_ids[deal_id]}/decision"
        else:
            path = f"/v1/deals/{deal_id}/{route}"
        out.append((path, {**body, "by": actor}))
    return out


def late_alerts(client: httpx.Client) -> dict[str, str]:
    items = client.get("/v1/alerts", params={"kind": "late_stage_discount", "limit": 500}).json()["items"]
    return {item["deal_id"]: item["alert_id"] for item in reversed(items)}  # the newest per deal wins


def main(
    review_url: str = typer.Option("http://127.0.0.1:8002", help="Base URL of review."),
    wait: float = typer.Option(60.0, help="Seconds to wait for the demo's alerts and deals."),
) -> None:
    """Post the demo managers' reviews, help and discount decisions to review."""
    with httpx.Client(base_url=review_url, timeout=30) as client:
        probe = client.get("/v1/scorecards")
        if probe.status_code in (401, 403):
            typer.echo("review has API keys: the demo actions (three named actors) run only in open mode; skipped")
            return
        done = {item["actor"] for item in probe.json()["items"]}
        wanted = {deal for _, deal, route, _ in DEMO_ACTIONS if route == "decision"}
        deadline = time.monotonic() + wait
        alerts = late_alerts(client)
        while not wanted <= alerts.keys() and time.monotonic() < deadline:
            time.sleep(0.5)
            alerts = late_alerts(client)
        posted = 0
        for path, body in requests_for(alerts, done):
            for _ in range(int(wait * 2)):  # a deal card appears once scoring folded the deal
                answer = client.post(path, json=body)
                if answer.status_code != 404:
                    break
                time.sleep(0.5)
            if answer.status_code != 202:
                typer.echo(f"review refused a demo action {path}: {answer.status_code} {answer.text[:200]}", err=True)
                raise typer.Exit(1)
            posted += 1
        typer.echo(f"posted {posted} demo actions by {len({b['by'] for _, b in requests_for(alerts, done)})} managers")


def run() -> None:
    typer.run(main)


if __name__ == "__main__":
    run()
