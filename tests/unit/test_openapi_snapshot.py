"""Each service's OpenAPI document equals its committed snapshot (docs/openapi/): no accidental contract change."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def snapshot_module():
    spec = importlib.util.spec_from_file_location("openapi_snapshot", ROOT / "deploy" / "openapi_snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SNAPSHOT = snapshot_module()
DOCUMENTS = SNAPSHOT.documents()


@pytest.mark.parametrize("name", ["ingest", "review"])
def test_the_document_equals_its_committed_snapshot(name):
    committed = (SNAPSHOT.SNAPSHOTS / f"{name}.json").read_text()
    served = SNAPSHOT.render(DOCUMENTS[name])
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(True),
            served.splitlines(True),
            f"docs/openapi/{name}.json (committed)",
            f"{name} /openapi.json (served)",
            n=2,
        )
    )
    assert not diff, (
        f"the {name} OpenAPI document changed. If that is deliberate, check it against "
        f"docs/review-api.md (Versioning: is it breaking for /v1?), run `make openapi` and commit.\n"
        f"{diff[:6000]}"
    )


@pytest.mark.parametrize("name", ["ingest", "review"])
def test_every_v1_path_is_versioned_in_its_path(name):
    # The version is in the path, and info.version names the major version the paths carry.
    paths = DOCUMENTS[name]["paths"]
    assert DOCUMENTS[name]["info"]["version"] == "1"
    assert all(path.startswith("/v1/") or path in {"/healthz", "/readyz", "/asyncapi.json"} for path in paths), paths
