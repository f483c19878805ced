"""The receiver snippet in docs/webhooks.md verifies what the service signs."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from services.review.webhooks.rules import render_body, sign

pytestmark = pytest.mark.unit
DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def documented_verify():
    snippet = next(
        block for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if "def verify" in block
    )
    scope: dict = {}
    exec(compile(snippet, str(DOC), "exec"), scope)  # noqa: S102 - our own documentation
    return scope["verify"]


def test_the_documented_receiver_check_accepts_real_signatures_and_rejects_forgeries():
    verify = documented_verify()
    body = render_body("json", "wh-1", {"alert_id": "al-1", "kind": "late_stage_discount"})
    now = int(time.time())
    header = sign("whsec_abc", now, body)
    assert verify("whsec_abc", header, body)
    assert not verify("whsec_other", header, body)
    assert not verify("whsec_abc", header, body.replace(b"al-1", b"al-2"))
    assert not verify("whsec_abc", sign("whsec_abc", now - 3600, body), body)
    assert not verify("whsec_abc", "garbage", body)
    assert not verify("whsec_abc", "t=²," + header.split(",", 1)[1], body)  # "²".isdigit() is true


def test_the_docs_list_every_refused_kind_of_address():
    text = DOC.read_text()
    for kind in (
        "loopback",
        "private",
        "CGNAT",
        "link-local",
        "unique-local",
        "multicast",
        "unspecified",
        "reserved",
        "PR_REVIEW_WEBHOOK_ALLOW_NETS",
        "PR_REVIEW_WEBHOOK_MAX_PER_CALLER",
        "address not allowed",
    ):
        assert kind in text
