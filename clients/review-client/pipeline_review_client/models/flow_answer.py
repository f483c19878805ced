from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.flow_answer_buckets import FlowAnswerBuckets
    from ..models.flow_answer_items_type_0_item import FlowAnswerItemsType0Item


T = TypeVar("T", bound="FlowAnswer")


@_attrs_define
class FlowAnswer:
    """
    Attributes:
        as_of (datetime.datetime):
        buckets (FlowAnswerBuckets): start, new, pulled_in, pushed_out, increased, decreased, won, lost, end; start +
            new + pulled_in - pushed_out + increased - decreased - won - lost = end.
        quarter (str):
        reconciles (bool): Whether the amounts add up (they always should).
        bucket (None | str | Unset): The bucket paged in items, when ?bucket= was given.
        items (list[FlowAnswerItemsType0Item] | None | Unset): That bucket's deals, largest part first.
        next_cursor (None | str | Unset):
    """

    as_of: datetime.datetime
    buckets: FlowAnswerBuckets
    quarter: str
    reconciles: bool
    bucket: None | str | Unset = UNSET
    items: list[FlowAnswerItemsType0Item] | None | Unset = UNSET
    next_cursor: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        as_of = self.as_of.isoformat()

        buckets = self.buckets.to_dict()

        quarter = self.quarter

        reconciles = self.reconciles

        bucket: None | str | Unset
        if isinstance(self.bucket, Unset):
            bucket = UNSET
        else:
            bucket = self.bucket

        items: list[dict[str, Any]] | None | Unset
        if isinstance(self.items, Unset):
            items = UNSET
        elif isinstance(self.items, list):
            items = []
            for items_type_0_item_data in self.items:
                items_type_0_item = items_type_0_item_data.to_dict()
                items.append(items_type_0_item)

        else:
            items = self.items

        next_cursor: None | str | Unset
        if isinstance(self.next_cursor, Unset):
            next_cursor = UNSET
        else:
            next_cursor = self.next_cursor

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "as_of": as_of,
                "buckets": buckets,
                "quarter": quarter,
                "reconciles": reconciles,
            }
        )
        if bucket is not UNSET:
            field_dict["bucket"] = bucket
        if items is not UNSET:
            field_dict["items"] = items
        if next_cursor is not UNSET:
            field_dict["next_cursor"] = next_cursor

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_answer_buckets import FlowAnswerBuckets  # noqa: PLC0415
        from ..models.flow_answer_items_type_0_item import FlowAnswerItemsType0Item  # noqa: PLC0415

        d = dict(src_dict)
        as_of = datetime.datetime.fromisoformat(d.pop("as_of"))

        buckets = FlowAnswerBuckets.from_dict(d.pop("buckets"))

        quarter = d.pop("quarter")

        reconciles = d.pop("reconciles")

        def _parse_bucket(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        bucket = _parse_bucket(d.pop("bucket", UNSET))

        def _parse_items(data: object) -> list[FlowAnswerItemsType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                items_type_0 = []
                _items_type_0 = data
                for items_type_0_item_data in _items_type_0:
                    items_type_0_item = FlowAnswerItemsType0Item.from_dict(items_type_0_item_data)

                    items_type_0.append(items_type_0_item)

                return items_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[FlowAnswerItemsType0Item] | None | Unset, data)

        items = _parse_items(d.pop("items", UNSET))

        def _parse_next_cursor(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor", UNSET))

        flow_answer = cls(
            as_of=as_of,
            buckets=buckets,
            quarter=quarter,
            reconciles=reconciles,
            bucket=bucket,
            items=items,
            next_cursor=next_cursor,
        )

        flow_answer.additional_properties = d
        return flow_answer

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
