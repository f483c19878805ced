from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.help_kind import HelpKind
from ..types import UNSET, Unset

T = TypeVar("T", bound="HelpRequest")


@_attrs_define
class HelpRequest:
    """
    Attributes:
        by (str): Who acted: only in open mode (no API key names the caller).
        kind (HelpKind):
        note (None | str | Unset): Free text, at most 500 characters.
    """

    by: str
    kind: HelpKind
    note: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        by = self.by

        kind = self.kind.value

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "by": by,
                "kind": kind,
            }
        )
        if note is not UNSET:
            field_dict["note"] = note

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        by = d.pop("by")

        kind = HelpKind(d.pop("kind"))

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        help_request = cls(
            by=by,
            kind=kind,
            note=note,
        )

        return help_request
