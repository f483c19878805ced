from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.webhook_create_format import WebhookCreateFormat
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.webhook_filter import WebhookFilter


T = TypeVar("T", bound="WebhookCreate")


@_attrs_define
class WebhookCreate:
    """A subscription request.

    Attributes:
        url (str): Where alerts are POSTed: http(s), a DNS name (no IP address, no single-label host), no
            user:password@, no fragment. A name that resolves to a non-public address is refused (422); one that does not
            resolve yet is accepted, and every delivery checks the address again. Where the operator sets
            PR_REVIEW_WEBHOOK_ALLOW_NETS, IP addresses and single-label hosts in those networks are accepted too.
        description (None | str | Unset):
        filter_ (WebhookFilter | Unset): Which alerts a subscription receives; every condition given must hold.
        format_ (WebhookCreateFormat | Unset): json (the alert in an envelope) or slack (an incoming-webhook message).
            Default: WebhookCreateFormat.JSON.
    """

    url: str
    description: None | str | Unset = UNSET
    filter_: WebhookFilter | Unset = UNSET
    format_: WebhookCreateFormat | Unset = WebhookCreateFormat.JSON

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        filter_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.filter_, Unset):
            filter_ = self.filter_.to_dict()

        format_: str | Unset = UNSET
        if not isinstance(self.format_, Unset):
            format_ = self.format_.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "url": url,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if filter_ is not UNSET:
            field_dict["filter"] = filter_
        if format_ is not UNSET:
            field_dict["format"] = format_

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_filter import WebhookFilter  # noqa: PLC0415

        d = dict(src_dict)
        url = d.pop("url")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        _filter_ = d.pop("filter", UNSET)
        filter_: WebhookFilter | Unset
        if isinstance(_filter_, Unset):
            filter_ = UNSET
        else:
            filter_ = WebhookFilter.from_dict(_filter_)

        _format_ = d.pop("format", UNSET)
        format_: WebhookCreateFormat | Unset
        if isinstance(_format_, Unset):
            format_ = UNSET
        else:
            format_ = WebhookCreateFormat(_format_)

        webhook_create = cls(
            url=url,
            description=description,
            filter_=filter_,
            format_=format_,
        )

        return webhook_create
