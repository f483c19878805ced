"""`make openapi`: write the OpenAPI documents of ingest and review to docs/openapi/ (the committed snapshots).

tests/unit/test_openapi_snapshot.py diffs each service's document against its snapshot, so a change
of the contract shows up in review as a change of docs/openapi/*.json, never by accident
(docs/review-api.md, "Versioning"). Run it after a deliberate change and commit the result.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "docs" / "openapi"


def documents() -> dict[str, dict[str, Any]]:
    """Each service's document as it serves it at /openapi.json, with default settings."""
    from services.ingest.app import create_app as ingest
    from services.review.app import create_app as review
    from services.review.settings import ReviewSettings

    logging.disable(logging.WARNING)  # "runs OPEN" warnings: nothing is served here
    try:
        return {"ingest": ingest().openapi(), "review": review(ReviewSettings(alert_feed_enabled=False)).openapi()}
    finally:
        logging.disable(logging.NOTSET)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        path = SNAPSHOTS / f"{name}.json"
        path.write_text(render(document))
        print(f"[openapi] wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
