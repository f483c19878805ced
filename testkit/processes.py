"""Run the real services as subprocesses for the integration and end-to-end tests and the benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """One service process with its own log file; ``stop`` ends it and checks it ended."""

    def __init__(self, name: str, env: dict[str, str], ready_url: str, log_dir: Path, argv: list[str] | None = None):
        """Runs ``argv``, by default the console script ``pr-<name>``."""
        self.name = name
        self.env = env
        self.ready_url = ready_url
        self.argv = argv or [str(BIN / f"pr-{name}")]
        self.log_path = log_dir / f"{name}-{int(time.time() * 1000)}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> Service:
        with self.log_path.open("ab") as log:  # the child writes to its own copy of the descriptor
            self.process = subprocess.Popen(
                self.argv, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.ready_url, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def kill(self) -> None:
        """Crash it: no clean shutdown, no final commit."""
        self.stop(signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def scoring_env(app_id: str, port: int, data_dir: Path) -> dict[str, str]:
    """A scoring worker that joins consumer groups fast (short sessions, as the issue asks)."""
    return {
        "PR_SCORING_APP_ID": app_id,
        "PR_SCORING_WEB_PORT": str(port),
        "PR_SCORING_DATA_DIR": str(data_dir),
        "PR_SCORING_SESSION_TIMEOUT": "6",
        "PR_SCORING_HEARTBEAT_INTERVAL": "0.5",
        "PR_SCORING_LOG_LEVEL": "warning",
    }
