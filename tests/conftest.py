"""Shared fixtures: the real Kafka and Redis that `make test` starts, isolated per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from services.shared.settings import CommonSettings

HINT = "run the suite with `make test`, which starts a test Kafka and Redis"


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The test broker; the test fails (never skips) when it is missing."""
    bootstrap = os.environ.get("PR_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        pytest.fail(f"PR_TEST_KAFKA_BOOTSTRAP is not set: {HINT}", pytrace=False)
    if not _reachable(bootstrap.split(",")[0]):
        pytest.fail(f"Kafka is not reachable at {bootstrap}: {HINT}", pytrace=False)
    return bootstrap


def _redis_from_env(variable: str, what: str, hint: str) -> str:
    """The Redis URL in ``variable``; the test fails (never skips) when it is unset or unreachable."""
    url = os.environ.get(variable)
    if not url:
        pytest.fail(f"{variable} is not set: {hint}", pytrace=False)
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    if not _reachable(host_port):
        pytest.fail(f"{what} is not reachable at {url}: {hint}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; the test fails (never skips) when it is missing."""
    return _redis_from_env("PR_TEST_REDIS_URL", "Redis", HINT)


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """One node of the test Redis Cluster (deploy/redis-cluster.sh); fails (never skips) when missing."""
    return _redis_from_env("PR_TEST_REDIS_CLUSTER_URL", "the Redis Cluster", f"{HINT} and a Redis Cluster")


@pytest.fixture
def common_settings(kafka_bootstrap: str, redis_url: str) -> Iterator[CommonSettings]:
    """Settings with a unique topic and Redis prefix, and the topics created."""
    from services.admin.topics import ensure_topics

    tag = uuid.uuid4().hex[:8]
    settings = CommonSettings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        topic_prefix=f"t{tag}-",
        redis_prefix=f"t{tag}",
    )
    ensure_topics(settings)
    yield settings


def settings_env(settings: CommonSettings) -> dict[str, str]:
    """The environment variables that give a service these settings."""
    return {
        "PR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PR_REDIS_URL": settings.redis_url.get_secret_value(),
        "PR_TOPIC_PREFIX": settings.topic_prefix,
        "PR_REDIS_PREFIX": settings.redis_prefix,
        "PR_REDIS_CLUSTER": str(settings.redis_cluster).lower(),
        "PR_DEAL_EVENT_PARTITIONS": str(settings.deal_event_partitions),
        "PR_TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
        "PR_TOPIC_MIN_INSYNC_REPLICAS": str(settings.topic_min_insync_replicas),
        "PR_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
    } | {
        name: str(value)
        for name, value in (
            ("PR_KAFKA_SASL_MECHANISM", settings.kafka_sasl_mechanism),
            ("PR_KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
            (
                "PR_KAFKA_SASL_PASSWORD",
                settings.kafka_sasl_password and settings.kafka_sasl_password.get_secret_value(),
            ),
            ("PR_KAFKA_SSL_CAFILE", settings.kafka_ssl_cafile),
        )
        if value
    }
