"""The value-creation score of the leader list, and the cadence-call questions.

leader score = potential value × evidence coverage, where

- potential value is the deal's ``potential_value`` or, when the source gives none, its
  ``amount``;
- evidence coverage = FLOOR + (1 − FLOOR) × the weighted share of qualification evidence
  that is known (economic buyer, champion, pain, metrics, decision criteria and process).
  It says how much is known about the deal; it is not a probability of winning it.
  ``score_parts`` also carries it as ``winnability``, the name the /v1 API first used.

The floor keeps a large deal with no evidence yet on the list: an unqualified big deal is
exactly where a leader's help (access, qualification) creates the most value, so it must
not score zero. Known evidence raises the score because value the team can actually win
is worth more of the leader's time than value it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.shared.events import QUALIFICATION_ITEMS

COVERAGE_FLOOR = 0.2
EVIDENCE_WEIGHTS: dict[str, float] = {
    "economic_buyer": 0.25,
    "champion": 0.20,
    "pain": 0.20,
    "metrics": 0.10,
    "decision_criteria": 0.10,
    "decision_process": 0.15,
}
THIN_QUALIFICATION = 3  # fewer known items than this is "thin"

assert set(EVIDENCE_WEIGHTS) == set(QUALIFICATION_ITEMS)
assert abs(sum(EVIDENCE_WEIGHTS.values()) - 1.0) < 1e-9


@dataclass(frozen=True)
class LeaderScore:
    score: float
    potential_value: float
    evidence_coverage: float
    evidence: dict[str, str]

    def parts(self) -> dict:
        """The parts that explain the rank, as shown to users."""
        coverage = round(self.evidence_coverage, 4)
        return {
            "potential_value": self.potential_value,
            "evidence_coverage": coverage,
            "winnability": coverage,  # the /v1 name of evidence_coverage, kept for its clients
            "evidence": self.evidence,
            "formula": "potential_value × evidence_coverage; evidence_coverage = 0.2 + 0.8 × weighted share "
            "of qualification items known (not a probability of winning)",
        }


def potential_value(potential: float | None, amount: float | None) -> float:
    """Potential value, defaulting to the amount when the source gives none."""
    if potential is not None:
        return float(potential)
    return float(amount or 0.0)


def evidence_coverage(evidence: dict[str, str]) -> float:
    """How much qualification evidence is known, weighted: COVERAGE_FLOOR (nothing) to 1.0 (everything)."""
    known = sum(weight for item, weight in EVIDENCE_WEIGHTS.items() if evidence.get(item) == "known")
    return COVERAGE_FLOOR + (1.0 - COVERAGE_FLOOR) * known


def leader_score(potential: float | None, amount: float | None, evidence: dict[str, str]) -> LeaderScore:
    """The leader-list score with its parts."""
    value = potential_value(potential, amount)
    coverage = evidence_coverage(evidence)
    return LeaderScore(
        score=round(value * coverage, 4), potential_value=value, evidence_coverage=coverage, evidence=dict(evidence)
    )


def leader_questions(evidence: dict[str, str], account: str | None) -> list[dict[str, str]]:
    """The leader questions that apply: access to people, and whether it is winnable when evidence is thin."""
    who = account or "the customer"
    questions: list[dict[str, str]] = []
    missing_people = [
        item.replace("_", " ") for item in ("economic_buyer", "champion") if evidence.get(item) != "known"
    ]
    if missing_people:
        questions.append(
            {
                "kind": "access",
                "text": f"Do you need my help to get to the right people at {who}?",
                "why": f"unknown: {', '.join(missing_people)}",
            }
        )
    known = sum(1 for item in QUALIFICATION_ITEMS if evidence.get(item) == "known")
    if known < THIN_QUALIFICATION:
        questions.append(
            {
                "kind": "winnability",
                "text": "How can I help you assess whether this deal is winnable?",
                "why": f"only {known} of {len(QUALIFICATION_ITEMS)} qualification items known",
            }
        )
    if not questions:
        questions.append(
            {
                "kind": "acceleration",
                "text": "What would accelerate this deal while it is still early?",
                "why": "qualified early-stage deal",
            }
        )
    return questions


def manager_questions(close_date: str | None) -> list[dict[str, str]]:
    """The classic must-win questions."""
    when = f" by {close_date}" if close_date else ""
    return [
        {
            "kind": "forecast",
            "text": f"Are you sure the deal will close as forecast{when}?",
            "why": "closes this quarter",
        },
        {"kind": "help", "text": "How can I help to close the deal?", "why": "must-win deal"},
    ]
