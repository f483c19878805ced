"""The dashboard's actions in a real browser: log a review, offer help, decide discounts, watch the scorecard move."""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS, api_ids, demo_events, discount, post
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e
ACTOR = "Maria Manager"


def card(review: str) -> dict | None:
    answer = httpx.get(f"{review}/v1/scorecards/{ACTOR}", timeout=10)
    return answer.json() if answer.status_code == 200 else None


def test_the_buttons_log_actions_and_the_scorecard_follows(stack):
    review, ingest = stack["review"], stack["ingest"]
    post(ingest, demo_events())
    wait_until(
        lambda: len(api_ids(review, "leader")) == 6 and len(api_ids(review, "manager")) == 5,
        timeout=20,
        what="the demo deals on both lists",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.set_default_timeout(15_000)
            errors: list[str] = []
            hosts: set[str] = set()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("request", lambda req: hosts.add(urlsplit(req.url).hostname or ""))
            page.goto(f"{review}/")
            expect(page.locator('[data-testid="leader-row"]')).to_have_count(6)
            expect(page.locator("#no-scorecard")).to_be_visible()

            # Open mode: the actor is the page's name; without one the page asks for it.
            first_leader = page.locator('[data-testid="leader-row"]').first
            first_leader.get_by_test_id("log-review").click()
            expect(first_leader.get_by_test_id("action-info")).to_contain_text("Enter your name")
            page.get_by_test_id("who").fill(ACTOR)
            page.get_by_test_id("save-settings").click()

            first_leader.get_by_test_id("log-review").click()
            expect(first_leader.get_by_test_id("action-info")).to_have_text("review logged")
            row = page.locator(f'[data-testid="scorecard-row"][data-actor="{ACTOR}"]')
            expect(row.get_by_test_id("scorecard-actions")).to_have_text("1 / 0 / 0")
            expect(row.get_by_test_id("scorecard-leader-share")).to_have_text("100.0 %")
            expect(row.get_by_test_id("scorecard-verdict")).to_have_text("leader")

            first_leader.get_by_test_id("help-kind").select_option("qualification")
            first_leader.get_by_test_id("offer-help").click()
            expect(row.get_by_test_id("scorecard-actions")).to_have_text("1 / 1 / 0")

            # A review of a must-win deal moves attention (and the point) towards the manager side.
            hooli = page.locator('[data-testid="manager-row"][data-deal-id="api:hooli-renewal"]')
            hooli.get_by_test_id("log-review").click()
            expect(row.get_by_test_id("scorecard-actions")).to_have_text("2 / 1 / 0")
            moved = card(review)
            assert 0 < moved["leader_share"] < 1
            expect(row.get_by_test_id("scorecard-leader-share")).to_have_text(f"{100 * moved['leader_share']:.1f} %")

            # Late-stage alerts carry approve, reject and counter.
            post(
                ingest,
                [
                    discount("hooli-renewal", 30, 15, "Dev Patel"),
                    discount("cyberdyne-support", 31, 20, "Ben"),
                    discount("soylent-expansion", 32, 10, "Cho Park"),
                ],
            )
            alerts = page.locator('[data-testid="alert"][data-kind="late_stage_discount"]')
            expect(alerts).to_have_count(3, timeout=15_000)
            by_deal = {
                name: alerts.filter(has_text=name)
                for name in ("Enterprise renewal", "Premium support", "Seat expansion")
            }
            by_deal["Enterprise renewal"].get_by_test_id("approve").click()
            expect(by_deal["Enterprise renewal"].get_by_test_id("decision-info")).to_contain_text(
                f"approved (15 %) by {ACTOR}"
            )
            by_deal["Premium support"].get_by_test_id("reject").click()
            expect(by_deal["Premium support"].get_by_test_id("decision-info")).to_contain_text("rejected")
            by_deal["Seat expansion"].get_by_test_id("counter-pct").fill("4")
            by_deal["Seat expansion"].get_by_test_id("counter").click()
            expect(by_deal["Seat expansion"].get_by_test_id("decision-info")).to_contain_text("countered (4 %)")

            # 480k x 15 % approved + 310k x 4 % countered, both late; the rejection gives nothing away.
            expect(row.get_by_test_id("scorecard-actions")).to_have_text("2 / 1 / 3", timeout=15_000)
            final = wait_until(
                lambda: (c := card(review)) and c["late_discounts"]["count"] == 2 and c,
                timeout=15,
                what="both granted discounts on the scorecard",
            )
            assert final["late_discounts"] == {"count": 2, "value": 84_400}
            expect(row.get_by_test_id("scorecard-late-discounts")).to_contain_text("2 ·")
            points = json.loads(page.get_by_test_id("scorecard-chart").get_attribute("data-points"))
            mine = next(p for p in points if p["actor"] == ACTOR)
            assert mine["y"] == final["leader_share"]
            # Nothing won yet, but late discounts given: drawn on the right edge.
            assert final["late_discount_intensity"] is None and mine["x"] > 0
            # The decisions reached the deals: the counter-offer is now the deal's discount.
            soylent = wait_until(
                lambda: (
                    (d := httpx.get(f"{review}/v1/deals/api:soylent-expansion", timeout=10).json()["discount"])
                    and d.get("decision") == "countered"
                    and d
                ),
                timeout=15,
                what="the countered discount on the deal",
            )
            assert soylent["discount_pct"] == 4 and soylent["decided_by"] == ACTOR
            if os.environ.get("PR_SCORECARD_SCREENSHOT"):  # a path: keep a picture of the page
                page.get_by_test_id("scorecard").screenshot(path=os.environ["PR_SCORECARD_SCREENSHOT"])
            assert hosts == {"127.0.0.1"}, f"the page reached beyond review: {hosts}"
            assert not errors, errors
        finally:
            browser.close()
