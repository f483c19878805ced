"""The baseline of the review benchmark: a bare FastAPI endpoint that returns a constant.

Served exactly like review (uvicorn, one worker, same log level), so the ratio of review to
this is what the list code costs on top of the web stack.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()

CONSTANT = {"items": [], "as_of": "2026-01-01T00:00:00Z", "next_cursor": None}


@app.get("/v1/lists/leader")
async def leader() -> dict:
    return CONSTANT


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}
