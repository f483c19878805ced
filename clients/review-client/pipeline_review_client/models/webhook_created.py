from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.webhook_created_format import WebhookCreatedFormat

if TYPE_CHECKING:
    from ..models.webhook_filter import WebhookFilter


T = TypeVar("T", bound="WebhookCreated")


@_attrs_define
class WebhookCreated:
    """
    Attributes:
        created_at (str):
        created_by (None | str):
        description (None | str):
        filter_ (WebhookFilter): Which alerts a subscription receives; every condition given must hold.
        format_ (WebhookCreatedFormat):
        host (str): The URL's host (and port when given).
        id (str):
        secret (str): Signs every delivery; shown only in this answer.
        url (None | str): The full URL for admins (and in the creation answer); null for others.
    """

    created_at: str
    created_by: None | str
    description: None | str
    filter_: WebhookFilter
    format_: WebhookCreatedFormat
    host: str
    id: str
    secret: str
    url: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        created_by: None | str
        created_by = self.created_by

        description: None | str
        description = self.description

        filter_ = self.filter_.to_dict()

        format_ = self.format_.value

        host = self.host

        id = self.id

        secret = self.secret

        url: None | str
        url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "created_by": created_by,
                "description": description,
                "filter": filter_,
                "format": format_,
                "host": host,
                "id": id,
                "secret": secret,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_filter import WebhookFilter  # noqa: PLC0415

        d = dict(src_dict)
        created_at = d.pop("created_at")

        def _parse_created_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        created_by = _parse_created_by(d.pop("created_by"))

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        filter_ = WebhookFilter.from_dict(d.pop("filter"))

        format_ = WebhookCreatedFormat(d.pop("format"))

        host = d.pop("host")

        id = d.pop("id")

        secret = d.pop("secret")

        def _parse_url(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        url = _parse_url(d.pop("url"))

        webhook_created = cls(
            created_at=created_at,
            created_by=created_by,
            description=description,
            filter_=filter_,
            format_=format_,
            host=host,
            id=id,
            secret=secret,
            url=url,
        )

        webhook_created.additional_properties = d
        return webhook_created

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
