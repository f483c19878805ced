"""The dashboard in a real browser (Debian's chromium via Playwright) against the running stack."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from services.domain.lists import quarter_bounds, quarter_of
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Set to a path (e.g. docs/dashboard.png) to keep the screenshot; the test always takes one.
SCREENSHOT_ENV = "PR_DASHBOARD_SCREENSHOT"
BASE = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)


def canonical(deal_id: str, type: str, minutes: int, **changes) -> dict:
    when = BASE + dt.timedelta(minutes=minutes)
    return {
        "event_id": f"{deal_id}-{minutes}-{type}",
        "source": "api",
        "deal_id": deal_id,
        "occurred_at": when.isoformat(),
        "type": type,
        "changes": changes,
    }


def demo_events() -> list[dict]:
    """A small demo pipeline: six early deals, five closing this quarter, two teams."""
    today = dt.date.today()
    quarter_end = quarter_bounds(quarter_of(today))[1].isoformat()
    later = (today + dt.timedelta(days=400)).isoformat()
    known = "known"
    early = [
        (
            "acme-platform",
            "Platform rollout",
            "Acme Corp",
            "u-ana",
            "Ana Ruiz",
            "East",
            "m-lee",
            "Prospecting",
            900_000,
            {},
        ),
        (
            "globex-analytics",
            "Analytics suite",
            "Globex",
            "u-ben",
            "Ben Okafor",
            "West",
            "m-kim",
            "Qualification",
            600_000,
            {"economic_buyer": known, "champion": known, "pain": known, "metrics": known},
        ),
        (
            "initech-migration",
            "Cloud migration",
            "Initech",
            "u-ana",
            "Ana Ruiz",
            "East",
            "m-lee",
            "Needs Analysis",
            450_000,
            {"economic_buyer": known, "pain": known},
        ),
        (
            "umbrella-security",
            "Security bundle",
            "Umbrella",
            "u-cho",
            "Cho Park",
            "West",
            "m-kim",
            "Prospecting",
            320_000,
            {"champion": known},
        ),
        (
            "stark-iot",
            "IoT pilot",
            "Stark Industries",
            "u-dev",
            "Dev Patel",
            "East",
            "m-lee",
            "Qualification",
            250_000,
            {"economic_buyer": known, "champion": known, "pain": known, "decision_process": known},
        ),
        (
            "wayne-training",
            "Training programme",
            "Wayne Enterprises",
            "u-ben",
            "Ben Okafor",
            "West",
            "m-kim",
            "Prospecting",
            120_000,
            {},
        ),
    ]
    closing = [
        (
            "hooli-renewal",
            "Enterprise renewal",
            "Hooli",
            "u-dev",
            "Dev Patel",
            "East",
            "m-lee",
            "Negotiation/Review",
            480_000,
            today.isoformat(),
        ),
        (
            "soylent-expansion",
            "Seat expansion",
            "Soylent",
            "u-cho",
            "Cho Park",
            "West",
            "m-kim",
            "Proposal/Price Quote",
            310_000,
            quarter_end,
        ),
        (
            "tyrell-upgrade",
            "Upgrade",
            "Tyrell",
            "u-ana",
            "Ana Ruiz",
            "East",
            "m-lee",
            "Perception Analysis",
            220_000,
            quarter_end,
        ),
        (
            "cyberdyne-support",
            "Premium support",
            "Cyberdyne",
            "u-ben",
            "Ben Okafor",
            "West",
            "m-kim",
            "Negotiation/Review",
            150_000,
            today.isoformat(),
        ),
        (
            "vandelay-import",
            "Import module",
            "Vandelay",
            "u-dev",
            "Dev Patel",
            "East",
            "m-lee",
            "Value Proposition",
            90_000,
            quarter_end,
        ),
    ]
    events = []
    for key, name, account, owner, owner_name, team, manager, stage, amount, evidence in early:
        events.append(
            canonical(
                f"api:{key}",
                "deal.created",
                0,
                name=name,
                account=account,
                owner_id=owner,
                owner_name=owner_name,
                team=team,
                manager_id=manager,
                stage=stage,
                amount=amount,
                currency="USD",
                close_date=later,
                qualification=evidence,
            )
        )
    for key, name, account, owner, owner_name, team, manager, stage, amount, close in closing:
        events.append(
            canonical(
                f"api:{key}",
                "deal.created",
                0,
                name=name,
                account=account,
                owner_id=owner,
                owner_name=owner_name,
                team=team,
                manager_id=manager,
                stage=stage,
                amount=amount,
                currency="USD",
                close_date=close,
            )
        )
    return events


def discount(deal_key: str, minutes: int, pct: float, by: str) -> dict:
    return canonical(
        f"api:{deal_key}",
        "deal.discount_requested",
        minutes,
        discount_pct=pct,
        requested_by=by,
        discount_reason="competitor pricing",
    )


def api_ids(review: str, which: str, **params) -> list[str]:
    answer = httpx.get(f"{review}/v1/lists/{which}", params={"limit": 500, **params}, timeout=10)
    answer.raise_for_status()
    return [item["deal_id"] for item in answer.json()["items"]]


def row_ids(page, which: str) -> list[str]:
    return page.locator(f'[data-testid="{which}-row"]').evaluate_all("rows => rows.map(r => r.dataset.dealId)")


def post(ingest: str, events) -> None:
    answer = httpx.post(f"{ingest}/v1/events", json=events, timeout=30)
    assert answer.status_code == 202, answer.text


def test_dashboard_shows_both_lists_and_live_alerts_in_a_browser(stack, tmp_path):
    review, ingest = stack["review"], stack["ingest"]
    events = demo_events()
    post(ingest, events)
    wait_until(
        lambda: len(api_ids(review, "leader")) == 6 and len(api_ids(review, "manager")) == 5,
        timeout=20,
        what="the demo deals on both lists",
    )
    leader_order, manager_order = api_ids(review, "leader"), api_ids(review, "manager")
    amounts = {e["deal_id"]: e["changes"]["amount"] for e in events}

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(15_000)
            errors: list[str] = []
            hosts: set[str] = set()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("request", lambda req: hosts.add(urlsplit(req.url).hostname or ""))

            page.goto(f"{review}/")
            expect(page.locator('[data-testid="leader-row"]')).to_have_count(6)
            expect(page.locator('[data-testid="manager-row"]')).to_have_count(5)

            # Both lists in the API's rank order, with score parts and questions on every row.
            assert row_ids(page, "leader") == leader_order
            assert row_ids(page, "manager") == manager_order
            first = page.locator('[data-testid="leader-row"]').first
            expect(first.locator('[data-testid="questions"] li').first).not_to_be_empty()
            first.locator('[data-testid="score"] summary').click()
            expect(first.locator('[data-testid="score"] dl')).to_contain_text("evidence coverage")

            # The leader-or-manager picture: early-stage potential value vs value closing this quarter.
            leader_sum = sum(amounts[d] for d in leader_order)
            manager_sum = sum(amounts[d] for d in manager_order)
            assert json.loads(page.get_by_test_id("leader-total").get_attribute("data-sum")) == {"USD": leader_sum}
            assert json.loads(page.get_by_test_id("manager-total").get_attribute("data-sum")) == {"USD": manager_sum}

            # A team filter narrows both lists and their totals the way the API does.
            page.get_by_test_id("filter-team").select_option("East")
            east_leader = api_ids(review, "leader", team="East")
            expect(page.locator('[data-testid="leader-row"]')).to_have_count(len(east_leader))
            assert row_ids(page, "leader") == east_leader
            expect(page.locator('[data-testid="manager-row"]')).to_have_count(
                len(api_ids(review, "manager", team="East"))
            )
            assert json.loads(page.get_by_test_id("leader-total").get_attribute("data-sum")) == {
                "USD": sum(amounts[d] for d in east_leader)
            }
            page.get_by_test_id("filter-team").select_option("")
            expect(page.locator('[data-testid="leader-row"]')).to_have_count(6)

            # The quarter's flow: the waterfall's bars are the API's buckets, and a click lists a bar's deals.
            flow = httpx.get(f"{review}/v1/pipeline/flow", timeout=10).json()
            chart = page.get_by_test_id("flow-chart")
            expect(chart).to_have_attribute("data-bars", re.compile(r"^\["))
            assert json.loads(chart.get_attribute("data-buckets")) == {
                name: bucket["amount"] for name, bucket in flow["buckets"].items()
            }
            bars = json.loads(chart.get_attribute("data-bars"))
            assert bars[0] == [0, flow["buckets"]["start"]["amount"]]
            assert bars[-1] == [0, flow["buckets"]["end"]["amount"]]
            assert bars[-2][1] == pytest.approx(flow["buckets"]["end"]["amount"])  # the steps land on the end
            end_bar = page.evaluate(
                "(() => { const p = movement.chart.getDatasetMeta(0).data[8]; "
                "return {x: p.x, y: (p.y + p.base) / 2}; })()"
            )
            chart.click(position=end_bar)
            expect(page.locator('[data-testid="flow-deal"]')).to_have_count(flow["buckets"]["end"]["count"])

            expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "live")
            post(
                ingest,
                [discount("hooli-renewal", 30, 15, "Dev Patel"), discount("umbrella-security", 31, 10, "Cho Park")],
            )
            alert = page.locator('[data-testid="alert"][data-kind="late_stage_discount"]')
            expect(alert).to_have_count(1, timeout=15_000)
            expect(alert).to_contain_text("Enterprise renewal")
            expect(alert).to_contain_text("Dev Patel")
            # The late deals created with no qualification raised qualification_gap alerts, shown too.
            discounts = page.locator(
                '[data-testid="alert"]:is([data-kind="late_stage_discount"],[data-kind="discount_info"])'
            )
            expect(discounts).to_have_count(2, timeout=15_000)
            gaps = page.locator('[data-testid="alert"][data-kind="qualification_gap"]')
            expect(gaps).to_have_count(3)  # hooli, soylent, cyberdyne
            expect(gaps.first).to_contain_text("Late deal with a qualification gap")

            # Acknowledge it in the page: the page and the API both show who and when.
            page.get_by_test_id("who").fill("Maria Manager")
            page.get_by_test_id("save-settings").click()
            alert.get_by_test_id("ack-button").click()
            expect(alert.get_by_test_id("ack-info")).to_contain_text("Acknowledged by Maria Manager")
            expect(alert.get_by_test_id("ack-button")).to_be_hidden()
            alert_id = alert.get_attribute("data-alert-id")
            feed = httpx.get(f"{review}/v1/alerts", timeout=10).json()["items"]
            acked = next(item for item in feed if item["alert_id"] == alert_id)
            assert acked["ack"]["by"] == "Maria Manager" and acked["ack"]["at"]

            # A later alert goes on top: the panel is newest first.
            post(ingest, [discount("cyberdyne-support", 40, 20, "Ben Okafor")])
            expect(discounts).to_have_count(3, timeout=15_000)
            expect(page.locator('[data-testid="alert"]').first).to_contain_text("Premium support")

            expect(page.get_by_test_id("verdict")).to_contain_text("still early")
            page.locator('[data-testid="leader-row"]').nth(1).locator('[data-testid="score"] summary').click()
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if os.environ.get(SCREENSHOT_ENV):
                shutil.copyfile(shot, Path(os.environ[SCREENSHOT_ENV]))

            # An API key, once saved, goes in a header with every request, never in a URL: the stream
            # opens with a short-lived token the key buys.
            with page.expect_request(lambda r: "/v1/lists/leader" in r.url and r.headers.get("x-api-key") == "k-test"):
                with page.expect_request(
                    lambda r: (
                        r.url.endswith("/v1/alerts/stream-token")
                        and r.method == "POST"
                        and r.headers.get("x-api-key") == "k-test"
                    )
                ):
                    with page.expect_request(lambda r: "/v1/alerts/stream?" in r.url and "token=" in r.url) as opened:
                        page.get_by_test_id("api-key").fill("k-test")
                        page.get_by_test_id("save-settings").click()
            assert "k-test" not in opened.value.url
            # The key is kept for this tab only.
            assert page.evaluate("sessionStorage.getItem('pr.apiKey')") == "k-test"
            assert page.evaluate("localStorage.getItem('pr.apiKey')") is None
            expect(page.get_by_test_id("stream-state")).to_have_text("live", timeout=15_000)

            assert hosts == {"127.0.0.1"}, f"the page reached beyond review: {hosts}"
            assert not errors, errors
        finally:
            browser.close()
