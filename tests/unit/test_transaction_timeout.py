"""The scoring worker's transactional producers get PR_SCORING_TRANSACTION_TIMEOUT, not aiokafka's 60 s."""

from __future__ import annotations

import asyncio

import pytest

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings

pytestmark = pytest.mark.unit


def transactional_producer_timeout_ms(settings: ScoringSettings, in_worker: bool) -> int | None:
    async def build():
        app = create_app(settings)
        app.in_worker = in_worker  # faust turns transactions on only inside a worker
        producer = app.producer._new_producer(transactional_id="pr-scoring-test-0")
        manager = producer._txn_manager
        return manager.transaction_timeout_ms if manager is not None else None

    return asyncio.run(build())


def test_a_worker_with_exactly_once_uses_the_configured_transaction_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("PR_SCORING_DATA_DIR", str(tmp_path))
    settings = ScoringSettings(transaction_timeout=240)
    assert transactional_producer_timeout_ms(settings, in_worker=True) == 240_000


def test_the_default_outlasts_a_slow_broker_restart(tmp_path, monkeypatch):
    # A broker kill -9 and restart on a loaded two-core machine took 84 s (make chaos).
    monkeypatch.setenv("PR_SCORING_DATA_DIR", str(tmp_path))
    assert transactional_producer_timeout_ms(ScoringSettings(), in_worker=True) == 300_000


def test_the_timeout_is_bounded_by_the_brokers_default_maximum():
    with pytest.raises(ValueError):
        ScoringSettings(transaction_timeout=901)
