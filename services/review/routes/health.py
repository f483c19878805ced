"""Liveness and readiness probes (open: no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import Hub, Ingestor, Redis

router = APIRouter()


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict:
    return {"status": "ok", "service": "review"}


@router.get(
    "/readyz",
    summary="Readiness: Redis reachable and the alert consumer started",
    description="503 until Redis answers and the alert consumer has connected once. A consumer that "
    "later loses Kafka is reported as `reconnecting` without failing readiness: the lists "
    "and the feed already in Redis are still served.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "status": "ready",
                        "alert_feed": {
                            "state": "running",
                            "group": "pr-review-alerts",
                            "topic": "deal-alerts",
                            "assigned_partitions": 3,
                            "appended": 12,
                            "duplicates": 1,
                            "rejected": 0,
                            "error": None,
                        },
                        "stream_clients": 2,
                    }
                }
            }
        },
        503: {"description": "Not ready"},
    },
)
async def readyz(redis: Redis, hub: Hub, ingestor: Ingestor) -> JSONResponse:
    feed = ingestor.status() if ingestor is not None else {"state": "disabled"}
    body = {"alert_feed": feed, "stream_clients": len(hub.subscribers)}
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": f"redis unavailable: {exc}", **body}, status_code=503)
    if ingestor is not None and not ingestor.ever_started:
        return JSONResponse({"status": "alert consumer not started yet", **body}, status_code=503)
    return JSONResponse({"status": "ready", **body})
