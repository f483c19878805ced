from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.action_accepted_action import ActionAcceptedAction


T = TypeVar("T", bound="ActionAccepted")


@_attrs_define
class ActionAccepted:
    """
    Attributes:
        action (ActionAcceptedAction):
        deal_id (str):
        event_id (str):
        occurred_at (str):
        type_ (str):
    """

    action: ActionAcceptedAction
    deal_id: str
    event_id: str
    occurred_at: str
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action = self.action.to_dict()

        deal_id = self.deal_id

        event_id = self.event_id

        occurred_at = self.occurred_at

        type_ = self.type_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "deal_id": deal_id,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.action_accepted_action import ActionAcceptedAction  # noqa: PLC0415

        d = dict(src_dict)
        action = ActionAcceptedAction.from_dict(d.pop("action"))

        deal_id = d.pop("deal_id")

        event_id = d.pop("event_id")

        occurred_at = d.pop("occurred_at")

        type_ = d.pop("type")

        action_accepted = cls(
            action=action,
            deal_id=deal_id,
            event_id=event_id,
            occurred_at=occurred_at,
            type_=type_,
        )

        action_accepted.additional_properties = d
        return action_accepted

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
