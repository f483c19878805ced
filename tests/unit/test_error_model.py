"""One error model for both services: every 4xx/5xx is {detail, errors}, and the documents say so."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from services.ingest.app import create_app as create_ingest
from services.review.app import create_app as create_review
from services.review.settings import ReviewSettings
from services.shared.errors import ErrorBody, finish_openapi, install_error_handlers

pytestmark = pytest.mark.unit

KEY = "unit-review-admin-0001"


def shaped(answer) -> dict:
    """The body, checked to be exactly the shared error model."""
    body = answer.json()
    assert answer.headers["content-type"].startswith("application/json")
    ErrorBody.model_validate(body)
    assert set(body) == {"detail", "errors"} and isinstance(body["detail"], str)
    return body


@pytest.fixture
def review():
    return TestClient(
        create_review(ReviewSettings(api_keys=f"{KEY}:admin", alert_feed_enabled=False)), raise_server_exceptions=False
    )


@pytest.fixture
def ingest():
    return TestClient(create_ingest(), raise_server_exceptions=False)


def test_a_missing_key_is_a_401_in_the_shared_shape(review):
    answer = review.get("/v1/lists/leader")
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert "API key" in shaped(answer)["detail"]


def test_a_bad_parameter_is_a_422_naming_each_field(review):
    answer = review.get("/v1/lists/leader?limit=0&cursor=nope", headers={"X-API-Key": KEY})
    assert answer.status_code == 422
    body = shaped(answer)
    assert {e["field"] for e in body["errors"]} == {"query.limit", "query.cursor"}
    assert body["detail"].startswith("query.") and "(and 1 more)" in body["detail"]


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("PUT", "/v1/webhooks", "GET, POST"),
        ("OPTIONS", "/v1/webhooks/wh-0123456789abcdef", "GET, DELETE"),
        ("TRACE", "/v1/lists/leader", "GET"),
    ],
)
@pytest.mark.parametrize("with_key", [True, False])
def test_a_wrong_method_is_a_405_naming_every_method_of_the_path(review, method, path, allow, with_key):
    # Without a key too: the methods are in the public document, so a 405 tells nothing more.
    answer = review.request(method, path, headers={"X-API-Key": KEY} if with_key else {})
    assert answer.status_code == 405 and answer.headers["allow"] == allow
    shaped(answer)


def test_a_wrong_method_does_not_open_an_unknown_path(review):
    assert review.request("TRACE", "/v1/nothing-here").status_code == 401


def test_an_unknown_path_is_a_404_in_the_shared_shape(review):
    answer = review.get("/v1/nothing-here", headers={"X-API-Key": KEY})
    assert answer.status_code == 404 and shaped(answer)["detail"] == "Not Found"


@pytest.mark.parametrize("body, status", [(b"", 400), (b"{", 400), (b"[]", 422), (b"{}", 422)])
def test_ingest_errors_are_in_the_shared_shape(ingest, body, status):
    answer = ingest.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    shaped(answer)


def test_an_unhandled_error_is_a_500_in_the_shared_shape_without_internals():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    @app.get("/teapot")
    async def teapot():
        raise HTTPException(418, {"not": "a string"})

    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/boom")
    assert answer.status_code == 500 and shaped(answer) == {"detail": "internal error", "errors": []}
    assert shaped(client.get("/teapot"))["detail"] == '{"not": "a string"}'


@pytest.mark.parametrize("make", [create_review, create_ingest])
def test_every_documented_error_of_every_operation_carries_the_error_model(make):
    document = make().openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ErrorBody" in schemas
    errors = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    errors += 1
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"
                    }, (method, path, status)
            if path.startswith("/v1/"):
                assert {"401", "503"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)
    assert errors > 20


def test_finish_openapi_keeps_a_description_given_and_fills_a_missing_one():
    schema = {
        "paths": {
            "/v1/x": {
                "get": {"responses": {"404": {"description": "No such x"}, "422": {"description": "Validation Error"}}}
            }
        }
    }
    finish_openapi(schema, {401: "No key"})
    responses = schema["paths"]["/v1/x"]["get"]["responses"]
    assert [responses[s]["description"] for s in ("401", "404", "422")] == [
        "No key",
        "No such x",
        "Invalid input; `errors` names each field",
    ]
