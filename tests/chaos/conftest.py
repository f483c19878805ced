"""Fixtures of the fault suite: a private Kafka and Redis (killed by the tests) and the services."""

from __future__ import annotations

import pytest

from tests.chaos.harness import Infra, Stack


@pytest.fixture
def infra():
    """A broker and Redis of this suite's own (PR_CHAOS_* ports), never the suite's shared ones."""
    own = Infra.from_env()
    own.start_fresh()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def chaos_stack(infra, tmp_path):
    stack = Stack(infra, tmp_path / "logs")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def cluster_infra():
    """Three KRaft nodes and a Redis of this suite's own (PR_CHAOS_CLUSTER_* ports)."""
    own = Infra.cluster_from_env()
    own.start_fresh()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def cluster_stack(cluster_infra, tmp_path):
    """The services against the cluster, with topics of 3 replicas and min.insync.replicas 2."""
    stack = Stack(cluster_infra, tmp_path / "logs")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
