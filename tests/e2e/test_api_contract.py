"""The OpenAPI documents are the contract: schemathesis with every check finds no disagreement.

This runs the same command an integrator would (issue 19):
``schemathesis run <url>/openapi.json --checks all --max-examples 15``, every phase (examples,
coverage, fuzzing, stateful), against both services running for real: open, and with keys
(with the right key, a team-scoped key, and none). Any failure fails the test with the report.

The live streams are left out: their answers never end (tests/e2e/test_alerts.py covers them).
testkit/schemathesis_hooks.py dates generated events no later than now: the clock-skew rule
is the one rule a static schema cannot state (the 422 documents it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from services.admin.topics import ensure_topics
from services.shared.settings import CommonSettings
from tests.e2e.conftest import running_stack
from tests.e2e.test_openapi_fuzz import INGEST_KEY, LOCKED_INGEST, LOCKED_REVIEW, REVIEW_ADMIN, REVIEW_MANAGER

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
STREAMING = r"/stream$|/ws$"
MAX_EXAMPLES = 15
# At least these many operations are tested (more when routes are added): ingest's /v1/events, its
# CRM routes (one a plug-in) and probes; review's 16 but the SSE stream.
INGEST_OPERATIONS = 8
REVIEW_OPERATIONS = 15


def schemathesis(base_url: str, workdir: Path, key: str | None = None) -> tuple[int, str]:
    """Run the CLI with every check and phase; (operations tested, report). Fails on any failure.

    Runs in ``workdir``: the CLI keeps a cache of crashes in ``.schemathesis/`` there."""
    argv = [
        str(SCHEMATHESIS),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--exclude-path-regex",
        STREAMING,
        "--request-timeout",
        "30",
        "--no-color",
        "--generation-database",
        "none",
    ]
    if key is not None:
        argv += ["--header", f"X-API-Key: {key}"]
    env = os.environ | {"SCHEMATHESIS_HOOKS": "testkit.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    failures = report[report.find("FAILURES") :] if "FAILURES" in report else report[-6000:]
    assert run.returncode == 0, f"schemathesis found failures at {base_url} (key {key!r}):\n{failures[:12000]}"
    tested = re.search(r"Tested:\s+(\d+)", report)
    assert tested, report[-2000:]
    return int(tested.group(1)), report


def fresh_settings(kafka_bootstrap: str, redis_url: str) -> CommonSettings:
    tag = uuid.uuid4().hex[:8]
    common = CommonSettings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, topic_prefix=f"t{tag}-", redis_prefix=f"t{tag}"
    )
    ensure_topics(common)
    return common


def test_both_open_services_keep_their_documented_contract(kafka_bootstrap, redis_url, tmp_path):
    with running_stack(fresh_settings(kafka_bootstrap, redis_url), tmp_path) as urls:
        ingest, _ = schemathesis(urls["ingest"], tmp_path)
        review, report = schemathesis(urls["review"], tmp_path)
    assert ingest >= INGEST_OPERATIONS and review >= REVIEW_OPERATIONS
    assert "Stateful" in report


def test_both_keyed_services_keep_their_documented_contract(kafka_bootstrap, redis_url, tmp_path):
    """Keys on both: the right key, a manager key scoped to two teams, and no key at all."""
    with running_stack(
        fresh_settings(kafka_bootstrap, redis_url), tmp_path, ingest_env=LOCKED_INGEST, review_env=LOCKED_REVIEW
    ) as urls:
        tested = [schemathesis(urls["ingest"], tmp_path, key)[0] for key in (INGEST_KEY, None)] + [
            schemathesis(urls["review"], tmp_path, key)[0] for key in (REVIEW_ADMIN, REVIEW_MANAGER, None)
        ]
    assert min(tested[:2]) >= INGEST_OPERATIONS and min(tested[2:]) >= REVIEW_OPERATIONS
