"""Fuzz both services from their own OpenAPI documents: no input may cause a 5xx."""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from services.admin.topics import ensure_topics
from services.shared.settings import CommonSettings
from tests.e2e.conftest import running_stack

pytestmark = pytest.mark.e2e
STREAMING = r"/stream$|/ws$"  # endless responses: covered by their own tests


@pytest.fixture(scope="module")
def fuzzed_stack(kafka_bootstrap, redis_url, tmp_path_factory):
    tag = uuid.uuid4().hex[:8]
    common = CommonSettings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, topic_prefix=f"t{tag}-", redis_prefix=f"t{tag}"
    )
    ensure_topics(common)
    with running_stack(common, tmp_path_factory.mktemp("fuzz")) as urls:
        yield urls


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def fuzz(base_url: str, headers: dict[str, str] | None = None, statuses: list[int] | None = None) -> list[str]:
    """Run generated requests against every operation; return the operations tried.

    ``statuses``, when given, collects every status answered (to check a key was honoured).
    """
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(path_regex=STREAMING)
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def never_5xx(case):
            response = case.call(base_url=base_url, timeout=30, headers=headers)
            if statuses is not None:
                statuses.append(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            )

        never_5xx()
        tried.append(f"{operation.method.upper()} {operation.path}")
    return tried


def test_ingest_never_answers_5xx(fuzzed_stack):
    tried = fuzz(fuzzed_stack["ingest"])
    assert "POST /v1/events" in tried and "POST /v1/sources/hubspot" in tried


def test_review_never_answers_5xx(fuzzed_stack):
    tried = fuzz(fuzzed_stack["review"])
    assert "GET /v1/lists/leader" in tried and "GET /v1/deals/{deal_id}" in tried


INGEST_KEY = "fuzz-ingest-key-0001"
LOCKED_INGEST = {
    # Every door locked: a key for /v1/events and a secret for each CRM route, so a 503
    # can only mean a fault, never "secret not configured".
    "PR_INGEST_API_KEYS": f"{INGEST_KEY}:api|csv|salesforce|hubspot|pipedrive|close",
    "PR_INGEST_SALESFORCE_TOKEN": "fuzz-salesforce-token",
    "PR_INGEST_HUBSPOT_CLIENT_SECRET": "fuzz-hubspot-secret",
    "PR_INGEST_PIPEDRIVE_USER": "fuzz",
    "PR_INGEST_PIPEDRIVE_PASSWORD": "fuzz-password",
    "PR_CLOSE_SIGNATURE_KEY": "00112233445566778899aabbccddeeff",
    "PR_INGEST_RATE_LIMIT": "100000/minute",
}


REVIEW_ADMIN = "fuzz-review-admin-01"
REVIEW_MANAGER = "fuzz-review-east-01"
LOCKED_REVIEW = {"PR_REVIEW_API_KEYS": f"{REVIEW_ADMIN}:admin,{REVIEW_MANAGER}:manager:East|West"}


@pytest.fixture(scope="module")
def locked_stack(kafka_bootstrap, redis_url, tmp_path_factory):
    """One stack with ingest and review both locked: each test fuzzes only its own service."""
    tag = uuid.uuid4().hex[:8]
    common = CommonSettings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, topic_prefix=f"t{tag}-", redis_prefix=f"t{tag}"
    )
    ensure_topics(common)
    with running_stack(
        common, tmp_path_factory.mktemp("fuzz-locked"), ingest_env=LOCKED_INGEST, review_env=LOCKED_REVIEW
    ) as urls:
        yield urls


def test_ingest_with_keys_never_answers_5xx(locked_stack):
    tried = fuzz(locked_stack["ingest"], headers={"X-API-Key": INGEST_KEY})
    assert "POST /v1/events" in tried and "POST /v1/sources/salesforce" in tried


def test_review_with_keys_never_answers_5xx(locked_stack):
    """Locked review: as an admin (every route) and as a team-scoped manager (the scoping checks)."""
    admin_statuses: list[int] = []
    manager_statuses: list[int] = []
    as_admin = fuzz(locked_stack["review"], headers={"X-API-Key": REVIEW_ADMIN}, statuses=admin_statuses)
    as_manager = fuzz(locked_stack["review"], headers={"X-API-Key": REVIEW_MANAGER}, statuses=manager_statuses)
    # Locked for real: the same routes without a key are refused.
    assert httpx.get(f"{locked_stack['review']}/v1/lists/leader").status_code == 401
    for tried, statuses in ((as_admin, admin_statuses), (as_manager, manager_statuses)):
        assert {"GET /v1/lists/leader", "GET /v1/alerts", "POST /v1/alerts/stream-token", "POST /v1/webhooks"} <= set(
            tried
        )
        # The key was honoured: the routes answered, not only refused the caller.
        assert sum(200 <= status < 300 for status in statuses) > len(statuses) // 10
        assert statuses.count(401) < len(statuses) // 2
