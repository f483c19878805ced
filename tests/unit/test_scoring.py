import pytest

from services.domain.scoring import (
    COVERAGE_FLOOR,
    evidence_coverage,
    leader_questions,
    leader_score,
    manager_questions,
    potential_value,
)
from services.shared.events import QUALIFICATION_ITEMS

pytestmark = pytest.mark.unit
NOTHING = dict.fromkeys(QUALIFICATION_ITEMS, "unknown")
EVERYTHING = dict.fromkeys(QUALIFICATION_ITEMS, "known")


def test_potential_value_defaults_to_amount():
    assert potential_value(None, 500) == 500
    assert potential_value(900, 500) == 900
    assert potential_value(None, None) == 0


def test_evidence_coverage_runs_from_the_floor_to_one():
    assert evidence_coverage(NOTHING) == pytest.approx(COVERAGE_FLOOR)
    assert evidence_coverage(EVERYTHING) == pytest.approx(1.0)
    assert evidence_coverage(NOTHING | {"economic_buyer": "known"}) == pytest.approx(0.2 + 0.8 * 0.25)


def test_score_is_potential_times_evidence_coverage_and_explains_itself():
    scored = leader_score(None, 100_000, NOTHING | {"champion": "known"})
    assert scored.score == pytest.approx(100_000 * (0.2 + 0.8 * 0.2))
    parts = scored.parts()
    assert parts["potential_value"] == 100_000
    assert parts["evidence_coverage"] == pytest.approx(0.36)
    assert parts["winnability"] == parts["evidence_coverage"]  # the /v1 name, kept
    assert parts["evidence"]["champion"] == "known"


def test_more_evidence_never_lowers_the_score():
    evidence = dict(NOTHING)
    last = leader_score(None, 1000, evidence).score
    for item in QUALIFICATION_ITEMS:
        evidence[item] = "known"
        now = leader_score(None, 1000, evidence).score
        assert now > last
        last = now


def test_access_question_when_buyer_or_champion_unknown():
    kinds = [q["kind"] for q in leader_questions(EVERYTHING | {"champion": "unknown"}, "Acme")]
    assert kinds == ["access"]
    assert "Acme" in leader_questions(NOTHING, "Acme")[0]["text"]


def test_winnability_question_when_qualification_is_thin():
    evidence = NOTHING | {"economic_buyer": "known", "champion": "known"}
    assert [q["kind"] for q in leader_questions(evidence, "A")] == ["winnability"]
    assert [q["kind"] for q in leader_questions(NOTHING, "A")] == ["access", "winnability"]


def test_a_qualified_deal_gets_an_acceleration_question():
    assert [q["kind"] for q in leader_questions(EVERYTHING, "A")] == ["acceleration"]


def test_manager_questions_name_the_close_date():
    questions = manager_questions("2026-12-15")
    assert [q["kind"] for q in questions] == ["forecast", "help"]
    assert "2026-12-15" in questions[0]["text"]
