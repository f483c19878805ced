"""`make lint`: the import contracts catch what they promise to, and CI runs them with pinned tools."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "services",
    "services/ingest",
    "services/scoring",
    "services/review",
    "services/shared",
    "services/domain",
    "services/admin",
    "testkit",
    "tests",
)


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """The project's contracts (pyproject.toml) run against a made-up tree of the same packages."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_tree(root: Path, modules: dict[str, str]) -> Path:
    for package in PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
    for path, source in modules.items():
        (root / path).write_text(source)
    return root


def test_the_import_contracts_pass_a_tree_that_keeps_the_direction(tmp_path):
    tree = make_tree(
        tmp_path,
        {
            "services/shared/keys.py": "",
            "services/domain/rules.py": "from services.shared import keys\n",
            "services/review/app.py": "import redis\nfrom services.domain import rules\n",
            "services/admin/cli.py": "from services.review import app\n",
        },
    )
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract", "edge"),
    [
        (
            "services/scoring/bad.py",
            "from services.review import x\n",
            "No service imports another service",
            "services.scoring.bad -> services.review.x",
        ),
        (
            "services/domain/bad.py",
            "from services.ingest import x\n",
            "The contracts and the domain import no service",
            "services.domain.bad -> services.ingest.x",
        ),
        (
            "services/ingest/bad.py",
            "from services.admin import x\n",
            "No service imports the admin tooling",
            "services.ingest.bad -> services.admin.x",
        ),
        ("services/domain/bad.py", "import redis\n", "The domain is pure", "services.domain.bad -> redis"),
        (
            "services/shared/bad.py",
            "from tests import x\n",
            "Shipped code imports no test code",
            "services.shared.bad -> tests.x",
        ),
    ],
)
def test_each_import_contract_fails_lint_on_the_import_it_forbids(tmp_path, module, source, contract, edge):
    targets = {"services/review/x.py": "", "services/ingest/x.py": "", "services/admin/x.py": "", "tests/x.py": ""}
    result = lint_imports(make_tree(tmp_path, targets | {module: source}))
    assert result.returncode != 0
    assert "1 broken" in result.stdout, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken and edge in broken


def test_ci_lints_before_the_tests_with_exactly_pinned_tools():
    commands = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert commands.index("make lint") < commands.index("exec make test")
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = dict(requirement.split("==") for requirement in dev)
    assert len(pins) == len(dev), f"every dev tool is pinned exactly: {dev}"
    assert {"ruff", "mypy", "import-linter", "pre-commit"} <= set(pins)
    assert '"$ROOT[test,dev]"' in (ROOT / "deploy/setup.sh").read_text()
    # The hooks run the pinned tools from the project's virtualenv: no second set of versions.
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    assert [repo["repo"] for repo in hooks] == ["local"]
    entries = {hook["id"]: hook["entry"] for hook in hooks[0]["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "import-linter"} <= set(entries)
    assert all(entry.startswith(".venv/bin/") for entry in entries.values()), entries
