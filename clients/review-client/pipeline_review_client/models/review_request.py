from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ReviewRequest")


@_attrs_define
class ReviewRequest:
    """
    Attributes:
        by (str): Who acted: only in open mode (no API key names the caller).
        note (None | str | Unset): Free text, at most 500 characters.
        questions (list[str] | Unset): The questions asked in the review (at most 20).
    """

    by: str
    note: None | str | Unset = UNSET
    questions: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        by = self.by

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        questions: list[str] | Unset = UNSET
        if not isinstance(self.questions, Unset):
            questions = self.questions

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "by": by,
            }
        )
        if note is not UNSET:
            field_dict["note"] = note
        if questions is not UNSET:
            field_dict["questions"] = questions

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        by = d.pop("by")

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        questions = cast(list[str], d.pop("questions", UNSET))

        review_request = cls(
            by=by,
            note=note,
            questions=questions,
        )

        return review_request
