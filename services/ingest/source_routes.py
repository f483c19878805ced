"""HTTP routes for CRM sources: one ``POST /v1/sources/<name>`` per adapter.

Each route authenticates the raw request, parses JSON, maps it with the adapter (pure),
then produces the events to deal-events and the unmappable items to the dead-letter
topic. It answers 2xx only once Kafka has acknowledged both, and answers 2xx even when
everything was dead-lettered, so the CRM stops retrying a payload that retrying cannot fix.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pipeline_review.shared.events import DealEvent

from .sources.base import AuthError, DeadLetter, PayloadError, RawRequest, SourceAdapter

Publish = Callable[[list[DealEvent]], Awaitable[None]]
PublishDeadLetters = Callable[[str, list[DeadLetter], dt.datetime], Awaitable[None]]


class SourceAccepted(BaseModel):
    accepted: int = Field(description="Canonical events produced to deal-events.")
    dead_lettered: int = Field(description="Items kept on the dead-letter topic because they cannot be mapped.")
    event_ids: list[str]
    dead_letter_reasons: list[str] = Field(description="Why each dead-lettered item could not be mapped.")


def dead_letter_record(source: str, letter: DeadLetter, received_at: dt.datetime) -> bytes:
    """The JSON kept on the dead-letter topic: enough to replay the item after a fix."""
    return json.dumps(
        {"source": source, "reason": letter.reason, "received_at": received_at.isoformat(), "payload": letter.payload},
        default=str,
    ).encode()


def add_source_routes(app: FastAPI, adapters: dict[str, SourceAdapter], read_json: Callable[..., Awaitable[Any]],
                      publish: Publish, publish_dead_letters: PublishDeadLetters, max_body_bytes: int,
                      clock: Callable[[], dt.datetime]) -> None:
    """Register one route per adapter (built-in or plug-in)."""
    for name, adapter in adapters.items():
        _add_route(app, name, adapter, read_json, publish, publish_dead_letters, max_body_bytes, clock)


def _add_route(app, name, adapter, read_json, publish, publish_dead_letters, max_body_bytes, clock) -> None:
    async def receive(request: Request) -> Any:
        body = await read_json(request, max_body_bytes, raw=True)
        raw = RawRequest(method=request.method, url=str(request.url),
                         headers={k.lower(): v for k, v in request.headers.items()}, body=body)
        try:
            adapter.authenticate(raw)
        except AuthError as exc:
            return JSONResponse({"detail": f"{name}: {exc}"}, status_code=401,
                                headers={"WWW-Authenticate": "Basic" if name == "pipedrive" else "Signature"})
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"detail": f"body: not valid JSON ({exc})", "errors": []}, status_code=400)
        received_at = clock()
        try:
            result = adapter.map(payload, received_at)
        except PayloadError as exc:
            return JSONResponse({"detail": str(exc), "errors": [{"field": exc.field, "message": exc.problem}]},
                                status_code=422)
        if result.dead_letters:
            await publish_dead_letters(name, result.dead_letters, received_at)
        if result.events:
            await publish(result.events)
        return SourceAccepted(
            accepted=len(result.events),
            dead_lettered=len(result.dead_letters),
            event_ids=[e.event_id for e in result.events],
            dead_letter_reasons=[d.reason for d in result.dead_letters],
        )

    app.add_api_route(
        f"/v1/sources/{name}",
        receive,
        methods=["POST"],
        status_code=202,
        response_model=SourceAccepted,
        summary=f"Receive {name} payloads",
        description=(adapter.__doc__ or "").strip().split("\n\n")[0],
        tags=["sources"],
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
        responses={
            401: {"description": "Authentication or signature check failed"},
            413: {"description": "Body too large"},
            422: {"description": "Malformed payload; `detail` names the field"},
            503: {"description": "Kafka did not acknowledge; nothing was accepted"},
        },
    )
