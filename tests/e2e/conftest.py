"""The three services as real processes, on free ports, isolated by topic and key prefix."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest

from tests.conftest import settings_env
from tests.services import Service, free_port, scoring_env


@contextmanager
def running_stack(common_settings, tmp_path, ingest_env: dict[str, str] | None = None,
                  review_env: dict[str, str] | None = None, scoring_extra: dict[str, str] | None = None):
    """ingest, scoring and review as processes; yields their base URLs.

    ``ingest_env`` adds ingest settings (keys, CRM secrets), ``review_env`` review's (keys) and
    ``scoring_extra`` the worker's; without them each runs open on loopback.
    """
    env = settings_env(common_settings)
    ports = {name: free_port() for name in ("ingest", "review", "scoring")}
    services = [
        Service("scoring", env | scoring_env(f"pr-scoring-{uuid.uuid4().hex[:6]}", ports["scoring"], tmp_path)
                | (scoring_extra or {}),
                f"http://127.0.0.1:{ports['scoring']}/readyz", tmp_path),
        Service("ingest", env | {"PR_INGEST_PORT": str(ports["ingest"]), "PR_INGEST_KAFKA_TIMEOUT": "5"}
                | (ingest_env or {}),
                f"http://127.0.0.1:{ports['ingest']}/readyz", tmp_path),
        Service("review", env | {"PR_REVIEW_PORT": str(ports["review"])} | (review_env or {}),
                f"http://127.0.0.1:{ports['review']}/readyz", tmp_path),
    ]
    try:
        for service in services:
            service.start()
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        for service in services:
            service.stop()


@pytest.fixture
def stack(common_settings, tmp_path):
    with running_stack(common_settings, tmp_path) as urls:
        yield urls


