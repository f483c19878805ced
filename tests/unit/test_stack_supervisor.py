"""make up's supervisor (deploy/stack.sh): a service that exits is started again, with backoff, logged."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_a_service_that_exits_is_restarted_with_backoff_and_each_restart_is_logged(tmp_path):
    venv, state = tmp_path / "venv", tmp_path / "state"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "pr-ingest"
    fake.write_text('#!/usr/bin/env bash\necho "run $$"\nexit 3\n')  # dies at once, every time
    fake.chmod(0o755)
    env = {**os.environ, "PR_VENV": str(venv), "PR_STATE_DIR": str(state)}
    supervisor = subprocess.Popen(
        [str(ROOT / "deploy/stack.sh"), "supervise", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log = state / "logs" / "supervisor.log"
    try:
        assert wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, timeout=15)
        lines = log.read_text().splitlines()
        assert "ingest (pid" in lines[0] and "exited with status 3; restarting in 1s" in lines[0]
        assert "restarting in 2s" in lines[1]  # the delay doubles
        runs = (state / "logs" / "ingest.log").read_text()
        assert runs.count("run ") >= 2  # started again, output kept in the service's log
        assert (state / "pids" / "ingest.pid").exists()
    finally:
        os.killpg(supervisor.pid, signal.SIGTERM)
    supervisor.wait(10)
    assert not alive(supervisor.pid)
