"""deploy/kafka.sh's cluster layout, checked without starting a broker (`status` only reads pid files and ports)."""

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

KAFKA_SH = Path(__file__).resolve().parents[2] / "deploy" / "kafka.sh"


def kafka_sh(tmp_path, action: str, **env: str) -> subprocess.CompletedProcess:
    # Ports nobody listens on in these tests' state: every node reads as down.
    return subprocess.run(
        [str(KAFKA_SH), action],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PR_STATE_DIR": str(tmp_path), **env},
    )


def test_a_three_node_status_names_each_node_on_consecutive_ports(tmp_path):
    done = kafka_sh(tmp_path, "status", PR_KAFKA_NODES="3", PR_KAFKA_PORT="1")

    assert done.returncode == 1  # none of them runs
    assert done.stdout.splitlines() == [
        "broker 1 127.0.0.1:1 down",
        "broker 2 127.0.0.1:2 down",
        "broker 3 127.0.0.1:3 down",
    ]


def test_a_single_node_status_stays_silent_as_before(tmp_path):
    done = kafka_sh(tmp_path, "status", PR_KAFKA_PORT="1")

    assert (done.returncode, done.stdout) == (1, "")


def test_a_node_count_that_is_not_a_number_is_refused_by_name(tmp_path):
    done = kafka_sh(tmp_path, "status", PR_KAFKA_NODES="three")

    assert done.returncode == 2
    assert "PR_KAFKA_NODES must be a positive whole number, not 'three'" in done.stderr


def test_controller_ports_that_overlap_the_broker_ports_are_refused(tmp_path):
    # With 3 nodes on 9092..9094, the single node's default controller port (9093) would collide.
    done = kafka_sh(tmp_path, "status", PR_KAFKA_NODES="3", PR_KAFKA_PORT="9092", PR_KAFKA_CONTROLLER_PORT="9093")

    assert done.returncode == 2
    assert "controller ports 9093.. overlap broker ports 9092..9094" in done.stderr


def test_stop_with_no_node_running_succeeds_and_removes_stale_pid_files(tmp_path):
    for node in (1, 2, 3):
        (tmp_path / "kafka" / f"node{node}").mkdir(parents=True)
        (tmp_path / "kafka" / f"node{node}" / "kafka.pid").write_text("999999999")

    done = kafka_sh(tmp_path, "stop", PR_KAFKA_NODES="3", PR_KAFKA_PORT="1")

    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "kafka").glob("node*/kafka.pid"))
