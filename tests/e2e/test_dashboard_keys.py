"""The dashboard against a review that requires keys: a header-only key, stream tokens, reconnects."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from testkit.processes import Service, free_port
from tests.conftest import settings_env
from tests.integration.review.conftest import append_direct, make_alert

from .test_dashboard import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

KEY = "east-dash-key-0001"


def test_locked_dashboard_streams_with_tokens_and_resumes_after_a_review_restart(common_settings, tmp_path):
    port = free_port()
    env = settings_env(common_settings) | {
        "PR_REVIEW_PORT": str(port),
        "PR_REVIEW_ALERT_FEED_ENABLED": "false",
        "PR_REVIEW_API_KEYS": f"{KEY}:manager:East",
    }
    review = f"http://127.0.0.1:{port}"

    def start() -> Service:
        return Service("review", env, f"{review}/readyz", tmp_path).start()

    east = [make_alert(team="East", name=f"East deal {i}") for i in range(4)]
    west = make_alert(team="West", name="West deal")
    append_direct(common_settings, [east[0], west])
    service = start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
            try:
                page = browser.new_page()
                page.set_default_timeout(30_000)
                urls: list[str] = []
                page.on("request", lambda req: urls.append(req.url))
                # As if the key had been saved in this tab earlier.
                page.add_init_script(f"sessionStorage.setItem('pr.apiKey', '{KEY}')")
                page.goto(f"{review}/")
                alerts = page.locator('[data-testid="alert"]')
                expect(alerts).to_have_count(1)
                expect(alerts.first).to_contain_text("East deal 0")
                expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "live")

                (second_cursor,) = append_direct(common_settings, [east[1]])
                expect(alerts).to_have_count(2)
                expect(alerts.first).to_contain_text("East deal 1")

                # review goes away and comes back; an alert is raised while the page is disconnected.
                service.stop()
                expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "down")
                append_direct(common_settings, [east[2]])
                service = start()
                expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "live")
                expect(alerts).to_have_count(3)
                append_direct(common_settings, [east[3]])
                expect(alerts).to_have_count(4)

                shown = alerts.evaluate_all("nodes => nodes.map(n => n.dataset.alertId)")
                assert shown == [a["alert_id"] for a in reversed(east)]  # newest first, no gap, no duplicate
                streams = [u for u in urls if "/v1/alerts/stream?" in u]
                assert len(streams) >= 2 and all("token=" in u for u in streams)
                # The reconnect resumed after the last alert the page had been streamed.
                assert any(f"cursor={second_cursor}" in u for u in streams[1:]), streams
                assert not [u for u in urls if KEY in u], "the key appeared in a URL"
                assert page.evaluate("localStorage.getItem('pr.apiKey')") is None
            finally:
                browser.close()
    finally:
        service.stop()
