"""The deploy/ checks: helm, kubeconform and promtool, built by deploy/k8s-tools.sh (make test does)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/pipeline-review"
SCHEMAS = ROOT / "deploy/helm/schemas"
KUBE_VERSION = "1.34.0"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "deploy: checks deploy/ with helm, kubeconform and promtool (deploy/k8s-tools.sh builds them)"
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.deploy)


@pytest.fixture(scope="session")
def tools() -> dict[str, Path]:
    """Paths of helm, kubeconform and promtool; the test fails (never skips) when they are missing."""
    bin_dir = Path(
        subprocess.run(
            [str(ROOT / "deploy/k8s-tools.sh"), "path"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    found = {name: bin_dir / name for name in ("helm", "kubeconform", "promtool")}
    missing = [name for name, path in found.items() if not path.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing in {bin_dir}: run deploy/k8s-tools.sh build (make test does it)",
            pytrace=False,
        )
    return found


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, cwd=ROOT, **kwargs)


def helm_template(tools, *args: str) -> subprocess.CompletedProcess:
    return run([tools["helm"], "template", "pr", CHART, "--kube-version", KUBE_VERSION, *args])


def render(tools, *args: str) -> list[dict]:
    """The chart rendered with these helm arguments, as a list of manifests."""
    done = helm_template(tools, *args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(manifests: list[dict], kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}
