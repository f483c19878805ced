"""The three services as real processes, on free ports, isolated by topic and key prefix."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest

from services.admin.topics import ensure_topics
from services.shared.settings import CommonSettings
from testkit.processes import Service, free_port, scoring_env
from tests.conftest import settings_env


@contextmanager
def running_stack(
    common_settings,
    tmp_path,
    ingest_env: dict[str, str] | None = None,
    review_env: dict[str, str] | None = None,
    scoring_extra: dict[str, str] | None = None,
):
    """ingest, scoring and review as processes; yields their base URLs.

    ``ingest_env`` adds ingest settings (keys, CRM secrets), ``review_env`` review's (keys) and
    ``scoring_extra`` the worker's; without them each runs open on loopback.
    """
    env = settings_env(common_settings)
    ports = {name: free_port() for name in ("ingest", "review", "scoring")}
    services = [
        Service(
            "scoring",
            env | scoring_env(f"pr-scoring-{uuid.uuid4().hex[:6]}", ports["scoring"], tmp_path) | (scoring_extra or {}),
            f"http://127.0.0.1:{ports['scoring']}/readyz",
            tmp_path,
        ),
        Service(
            "ingest",
            env | {"PR_INGEST_PORT": str(ports["ingest"]), "PR_INGEST_KAFKA_TIMEOUT": "5"} | (ingest_env or {}),
            f"http://127.0.0.1:{ports['ingest']}/readyz",
            tmp_path,
        ),
        Service(
            "review",
            env | {"PR_REVIEW_PORT": str(ports["review"])} | (review_env or {}),
            f"http://127.0.0.1:{ports['review']}/readyz",
            tmp_path,
        ),
    ]
    try:
        for service in services:
            service.start()
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        for service in services:
            service.stop()


@pytest.fixture(scope="module")
def stack_settings(kafka_bootstrap: str, redis_url: str) -> CommonSettings:
    """Settings of one module's stack: a unique topic and Redis prefix, the topics created."""
    tag = uuid.uuid4().hex[:8]
    settings = CommonSettings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, topic_prefix=f"t{tag}-", redis_prefix=f"t{tag}"
    )
    ensure_topics(settings)
    return settings


@pytest.fixture(scope="module")
def stack(stack_settings, tmp_path_factory):
    """One stack for the tests of a module: booting three processes per test is most of the e2e time.

    Tests sharing it use deal ids of their own; a test that needs a fresh stack calls running_stack.
    """
    with running_stack(stack_settings, tmp_path_factory.mktemp("stack")) as urls:
        yield urls
