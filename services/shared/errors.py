"""The one error model of both HTTP services, and the FastAPI wiring that makes every 4xx/5xx use it.

Every error answer of ingest and review is ``application/json``::

    {"detail": "cursor: not a cursor returned by this API",
     "errors": [{"field": "query.cursor", "message": "...", "type": "string_pattern_mismatch"}]}

``detail`` is one human-readable line that starts with the field at fault when there is one;
``errors`` lists every field problem (empty when the error is not about a field). It is the shape
ingest always answered; review's answers and FastAPI's own 404/405/422 now follow it too
(docs/review-api.md, "Errors"). Kept rather than RFC 9457 problem details: ``detail`` means the
same in both, and /v1 clients already read it (docs/decisions.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

log = logging.getLogger("services.shared.errors")


class FieldError(BaseModel):
    field: str = Field(description="Where the problem is: `query.limit`, `body.url`, `events[2].changes.amount`.")
    message: str
    type: str | None = Field(None, description="A machine-readable kind, e.g. pydantic's `string_too_short`.")


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer of both services."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "team: this key may not read team 'West'", "errors": []}]}
    )

    detail: str = Field(description="One line; starts with the field at fault when there is one.")
    errors: list[FieldError] = Field(default_factory=list, description="Every field problem; empty when none.")


# What each status means when an operation documents it without saying more.
DESCRIPTIONS = {
    400: "The body is empty or not JSON, or a parameter is malformed",
    401: "No or unknown credential (X-API-Key or Authorization: Bearer)",
    403: "The credential may not do this",
    404: "No such resource (or not visible to this credential)",
    405: "Method not allowed; see Allow",
    409: "Conflicts with the current state",
    413: "Body or batch too large",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; see Retry-After",
    500: "Internal error",
    503: "A dependency is unavailable; see Retry-After",
}


def error_content(detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": errors or []}


def error_response(
    status: int, detail: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error answer in the shared shape."""
    return JSONResponse(error_content(detail, errors), status_code=status, headers=headers)


def error_bytes(detail: str) -> bytes:
    """The body of an error answered below FastAPI (an ASGI middleware)."""
    return json.dumps(error_content(detail)).encode()


def field_path(prefix: str, loc: tuple | list) -> str:
    """A pydantic error location as ``events[2].changes.amount`` (``query.limit`` for parameters)."""
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def field_errors(raw: Sequence[Mapping[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
    """Pydantic's ``errors()`` as :class:`FieldError` dicts."""
    return [
        {
            "field": field_path(prefix, tuple(err.get("loc", ()))),
            "message": str(err.get("msg", "")),
            "type": err.get("type"),
        }
        for err in raw
    ]


def summary(errors: list[dict[str, Any]]) -> str:
    """``detail`` for a list of field errors: the first one, and how many more."""
    if not errors:
        return "invalid request"
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: MutableMapping[str, Any]) -> list[str]:
    """Every method some route of ``app`` answers on the path of ``scope`` (for ``Allow`` on a 405).

    Asks each route, through Starlette's public ``matches``, whether it would take the request
    with each method: included routers and mounts answer for themselves.
    """
    base = {
        "type": "http",
        "path": scope["path"],
        "root_path": scope.get("root_path", ""),
        "headers": [],
        "query_string": b"",
    }
    allowed = []
    for method in _METHODS:
        probe = base | {"method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in app.router.routes if not isinstance(route, Mount)):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    """Answer FastAPI's own errors (404, 405, 422, HTTPException, anything unhandled) in the shared shape."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # registered for it below
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route that matched the path.
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        if exc.status_code == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return error_response(exc.status_code, detail, headers=headers)

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # registered for it below
        errors = field_errors(list(exc.errors()))
        return error_response(422, summary(errors), errors)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s: unhandled error", request.method, request.url.path)
        return error_response(500, "internal error")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal_error)


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each with the shared body; ``descriptions`` (``s401="..."``) refine."""
    return {
        status: {"model": ErrorBody, "description": descriptions.get(f"s{status}", DESCRIPTIONS[status])}
        for status in statuses
    }


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def finish_openapi(
    schema: dict[str, Any], every_operation: dict[int, str] | None = None, prefix: str = "/v1/"
) -> dict[str, Any]:
    """Make the document say what the service does about errors.

    - Every 4xx/5xx an operation documents carries the :class:`ErrorBody` schema.
    - FastAPI's ``HTTPValidationError`` (422) is replaced by it: the handler above answers that shape.
    - ``every_operation`` (status -> description) is added to each operation under ``prefix``:
      what any of them can answer (401 with keys configured, 503 while a dependency is down).
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for sub in components["ErrorBody"].pop("$defs", {}).items():
        components.setdefault(*sub)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if path.startswith(prefix):
                for status, description in (every_operation or {}).items():
                    responses.setdefault(str(status), {"description": description})
            if "requestBody" in operation:  # FastAPI answers 400 to a body it cannot decode
                responses.setdefault("400", {"description": "The body is not valid JSON"})
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = {"application/json": {"schema": dict(_ERROR_REF)}}
                    if response.get("description") in (None, "", "Validation Error"):
                        response["description"] = DESCRIPTIONS.get(int(status), "Error")
            operation["responses"] = dict(sorted(responses.items()))
    return schema
