from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.decision import Decision
from ..types import UNSET, Unset

T = TypeVar("T", bound="DecisionRequest")


@_attrs_define
class DecisionRequest:
    """
    Attributes:
        by (str): Who acted: only in open mode (no API key names the caller).
        decision (Decision):
        discount_pct (float | None | Unset): countered: the counter-offer (required, below the request); approved: the
            request's, if given; rejected: must be left out.
        note (None | str | Unset): Free text, at most 500 characters.
    """

    by: str
    decision: Decision
    discount_pct: float | None | Unset = UNSET
    note: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        by = self.by

        decision = self.decision.value

        discount_pct: float | None | Unset
        if isinstance(self.discount_pct, Unset):
            discount_pct = UNSET
        else:
            discount_pct = self.discount_pct

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "by": by,
                "decision": decision,
            }
        )
        if discount_pct is not UNSET:
            field_dict["discount_pct"] = discount_pct
        if note is not UNSET:
            field_dict["note"] = note

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        by = d.pop("by")

        decision = Decision(d.pop("decision"))

        def _parse_discount_pct(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        discount_pct = _parse_discount_pct(d.pop("discount_pct", UNSET))

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        decision_request = cls(
            by=by,
            decision=decision,
            discount_pct=discount_pct,
            note=note,
        )

        return decision_request
