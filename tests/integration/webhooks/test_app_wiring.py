"""The webhook routes inside the review app: its settings and its API keys apply (real Redis)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from services.review.app import create_app
from services.review.settings import ReviewSettings
from services.review.webhooks import WebhookSettings

pytestmark = pytest.mark.integration

KEYS = "admin-key-01:admin,east-key-01:manager:East,dash-key-001:dashboard"
ADMIN, EAST, DASHBOARD = ({"X-API-Key": k} for k in ("admin-key-01", "east-key-01", "dash-key-001"))


@asynccontextmanager
async def review(common_settings, **webhook):
    settings = ReviewSettings(
        common=common_settings,
        alert_feed_enabled=False,
        api_keys=KEYS,
        webhook=WebhookSettings(enabled=False, **webhook),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
            yield client
    cleanup = aioredis.Redis.from_url(common_settings.redis_url.get_secret_value())
    async for key in cleanup.scan_iter(f"{common_settings.redis_prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()


async def test_the_app_refuses_loopback_unless_its_settings_admit_it(common_settings):
    hook = {"url": "http://127.0.0.1:9/hook", "filter": {"teams": ["East"]}}
    async with review(common_settings) as client:
        refused = await client.post("/v1/webhooks", json=hook, headers=ADMIN)
        assert refused.status_code == 422 and "loopback" in refused.json()["detail"][0]["msg"]
    async with review(common_settings, allow_nets="127.0.0.0/8", max_per_caller=1) as client:
        created = await client.post("/v1/webhooks", json=hook, headers=EAST)
        assert created.status_code == 201
        assert (await client.post("/v1/webhooks", json=hook, headers=EAST)).status_code == 409
        sub_id = created.json()["id"]
        as_manager = (await client.get(f"/v1/webhooks/{sub_id}", headers=EAST)).json()
        assert as_manager["url"] is None and as_manager["host"] == "127.0.0.1:9"
        assert (await client.get(f"/v1/webhooks/{sub_id}", headers=ADMIN)).json()["url"] == hook["url"]
        for path in ("/v1/webhooks", f"/v1/webhooks/{sub_id}", f"/v1/webhooks/{sub_id}/dead-letters"):
            assert (await client.get(path, headers=DASHBOARD)).status_code == 403
