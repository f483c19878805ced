"""The committed review client (clients/review-client) is what `make client` generates today."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "clients" / "review-client"


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ, or exist on one side only, under two trees (caches ignored)."""
    ignore = ["__pycache__", ".pytest_cache", ".ruff_cache"]
    found: list[str] = []

    def walk(cmp: filecmp.dircmp, where: str) -> None:
        found.extend(f"{where}{name}" for name in cmp.left_only + cmp.right_only + cmp.diff_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{where}{name}/")

    walk(filecmp.dircmp(left, right, ignore=ignore), "")
    return found


def test_the_committed_client_is_not_stale(tmp_path):
    fresh = tmp_path / "review-client"
    run = subprocess.run(
        ["bash", str(ROOT / "deploy" / "client.sh"), str(fresh)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    stale = differences(COMMITTED, fresh)
    assert not stale, f"clients/review-client is stale (run `make client` and commit): {stale[:20]}"
    # It is the review API's client: one module per operation of the document.
    assert (COMMITTED / "pipeline_review_client" / "api" / "default" / "leader_list.py").is_file()
