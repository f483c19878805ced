"""HTTP routes for CRM sources: one ``POST /v1/sources/<name>`` per adapter.

Each route authenticates the raw request with the adapter's declared :class:`SourceAuth`
(503 naming the setting while the secret is unset, unless ingest runs open), parses JSON,
maps it with the adapter (pure), then produces the events to deal-events and the
unmappable items -- and the ones dated too far ahead -- to the dead-letter topic. It
answers 2xx only once Kafka has acknowledged both, and answers 2xx even when everything
was dead-lettered, so the CRM stops retrying a payload that retrying cannot fix.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.shared.events import DealEvent

from .sources.base import AuthError, DeadLetter, MappingResult, PayloadError, RawRequest, SourceAdapter

log = logging.getLogger(__name__)

Publish = Callable[[list[DealEvent]], Awaitable[None]]
PublishDeadLetters = Callable[[str, list[DeadLetter], dt.datetime], Awaitable[None]]
RateLimit = Callable[[Request, str | None], Awaitable[None]]
AUTH_HEADERS = {"basic": "Basic", "bearer": "Bearer"}


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


def add_source_routes(
    app: FastAPI,
    adapters: dict[str, SourceAdapter],
    read_json: Callable[..., Awaitable[Any]],
    publish: Publish,
    publish_dead_letters: PublishDeadLetters,
    max_body_bytes: int,
    clock: Callable[[], dt.datetime],
    *,
    open_mode: bool = False,
    max_clock_skew: dt.timedelta = dt.timedelta(seconds=300),
    rate_limit: RateLimit | None = None,
) -> None:
    """Register one route per adapter (built-in or plug-in)."""
    for name, adapter in adapters.items():
        _add_route(
            app,
            name,
            adapter,
            read_json,
            publish,
            publish_dead_letters,
            max_body_bytes,
            clock,
            open_mode,
            max_clock_skew,
            rate_limit,
        )


def parse_source_json(body: bytes) -> Any:
    """Parse a vendor body; ValueError with a reason for anything that is not usable JSON.

    ``json`` raises ValueError (not JSONDecodeError) for integers over 4,300 digits and
    RecursionError for nesting deeper than the interpreter's stack allows.
    """
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise ValueError(str(exc).split(";")[0]) from None


def hold_back_future_events(result: MappingResult, latest: dt.datetime) -> None:
    """Move events dated after ``latest`` to the dead letters: a far-future ``occurred_at`` would freeze a deal."""
    kept = []
    for event in result.events:
        if event.occurred_at > latest:
            result.dead_letters.append(
                DeadLetter(
                    f"occurred_at {event.occurred_at.isoformat()} of {event.event_id} is later than ingest's clock "
                    f"allows ({latest.isoformat()}, PR_INGEST_MAX_CLOCK_SKEW)",
                    event.model_dump(mode="json", exclude_unset=True),
                )
            )
        else:
            kept.append(event)
    result.events = kept


def _add_route(
    app,
    name,
    adapter,
    read_json,
    publish,
    publish_dead_letters,
    max_body_bytes,
    clock,
    open_mode,
    max_clock_skew,
    rate_limit,
) -> None:
    auth = adapter.auth
    check = auth is not None and auth.configured
    refused = (
        None
        if (check or open_mode)
        else (
            f"{name}: refused because {' and '.join(auth.variables)} {'is' if len(auth.variables) == 1 else 'are'} not set"
            if auth is not None
            else f"{name}: the adapter declares no authentication"
        )
    )

    async def receive(request: Request) -> Any:
        if rate_limit is not None:
            await rate_limit(request, None if open_mode else f"source:{name}")
        if refused:
            return JSONResponse({"detail": refused}, status_code=503)
        body = await read_json(request, max_body_bytes, raw=True)
        if check:
            raw = RawRequest(
                method=request.method,
                url=str(request.url),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
            try:
                adapter.authenticate(raw)
            except Exception as exc:  # noqa: BLE001 - a check that crashes fails closed: 401, never 500
                if isinstance(exc, AuthError):
                    detail = str(exc) if str(exc).startswith(f"{name}:") else f"{name}: {exc}"
                else:
                    log.exception("%s: authenticate() raised instead of refusing; answered 401", name)
                    detail = f"{name}: the credentials could not be verified"
                return JSONResponse(
                    {"detail": detail},
                    status_code=401,
                    headers={"WWW-Authenticate": AUTH_HEADERS.get(auth.scheme, "Signature")},
                )
        try:
            payload = parse_source_json(body)
        except ValueError as exc:
            return JSONResponse({"detail": f"body: not valid JSON ({exc})", "errors": []}, status_code=400)
        received_at = clock()
        try:
            result = adapter.map(payload, received_at)
        except PayloadError as exc:
            return JSONResponse(
                {"detail": str(exc), "errors": [{"field": exc.field, "message": exc.problem}]}, status_code=422
            )
        except RecursionError:  # an adapter walking a deeply nested payload
            return JSONResponse({"detail": "body: nested too deeply", "errors": []}, status_code=400)
        hold_back_future_events(result, received_at + max_clock_skew)
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
            400: {"description": "Body is not usable JSON"},
            401: {"description": "Authentication or signature check failed"},
            413: {"description": "Body too large"},
            422: {"description": "Malformed payload; `detail` names the field"},
            429: {"description": "Too many requests; see Retry-After"},
            503: {
                "description": "Kafka did not acknowledge, or the source's secret is not configured; nothing was accepted"
            },
        },
    )
