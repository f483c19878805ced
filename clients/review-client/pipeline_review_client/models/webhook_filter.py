from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.webhook_filter_kinds_item import WebhookFilterKindsItem
from ..models.webhook_filter_min_severity_type_0 import WebhookFilterMinSeverityType0
from ..types import UNSET, Unset

T = TypeVar("T", bound="WebhookFilter")


@_attrs_define
class WebhookFilter:
    """Which alerts a subscription receives; every condition given must hold.

    Attributes:
        kinds (list[WebhookFilterKindsItem] | Unset): Alert kinds; add discount_info for discounts on early and mid
            deals, and close_date_pushed, qualification_gap or stalled for pipeline movement.
        manager_id (None | str | Unset): Only deals of this manager id.
        min_severity (None | Unset | WebhookFilterMinSeverityType0): Only alerts at least this severe (info < low <
            medium < high).
        min_value_at_risk (float | None | Unset): Only alerts with at least this value at risk.
        teams (list[str] | None | Unset): Only these teams; null = all teams.
    """

    kinds: list[WebhookFilterKindsItem] | Unset = UNSET
    manager_id: None | str | Unset = UNSET
    min_severity: None | Unset | WebhookFilterMinSeverityType0 = UNSET
    min_value_at_risk: float | None | Unset = UNSET
    teams: list[str] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        kinds: list[str] | Unset = UNSET
        if not isinstance(self.kinds, Unset):
            kinds = []
            for kinds_item_data in self.kinds:
                kinds_item = kinds_item_data.value
                kinds.append(kinds_item)

        manager_id: None | str | Unset
        if isinstance(self.manager_id, Unset):
            manager_id = UNSET
        else:
            manager_id = self.manager_id

        min_severity: None | str | Unset
        if isinstance(self.min_severity, Unset):
            min_severity = UNSET
        elif isinstance(self.min_severity, WebhookFilterMinSeverityType0):
            min_severity = self.min_severity.value
        else:
            min_severity = self.min_severity

        min_value_at_risk: float | None | Unset
        if isinstance(self.min_value_at_risk, Unset):
            min_value_at_risk = UNSET
        else:
            min_value_at_risk = self.min_value_at_risk

        teams: list[str] | None | Unset
        if isinstance(self.teams, Unset):
            teams = UNSET
        elif isinstance(self.teams, list):
            teams = self.teams

        else:
            teams = self.teams

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if kinds is not UNSET:
            field_dict["kinds"] = kinds
        if manager_id is not UNSET:
            field_dict["manager_id"] = manager_id
        if min_severity is not UNSET:
            field_dict["min_severity"] = min_severity
        if min_value_at_risk is not UNSET:
            field_dict["min_value_at_risk"] = min_value_at_risk
        if teams is not UNSET:
            field_dict["teams"] = teams

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _kinds = d.pop("kinds", UNSET)
        kinds: list[WebhookFilterKindsItem] | Unset = UNSET
        if _kinds is not UNSET:
            kinds = []
            for kinds_item_data in _kinds:
                kinds_item = WebhookFilterKindsItem(kinds_item_data)

                kinds.append(kinds_item)

        def _parse_manager_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        manager_id = _parse_manager_id(d.pop("manager_id", UNSET))

        def _parse_min_severity(data: object) -> None | Unset | WebhookFilterMinSeverityType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                min_severity_type_0 = WebhookFilterMinSeverityType0(data)

                return min_severity_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookFilterMinSeverityType0, data)

        min_severity = _parse_min_severity(d.pop("min_severity", UNSET))

        def _parse_min_value_at_risk(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        min_value_at_risk = _parse_min_value_at_risk(d.pop("min_value_at_risk", UNSET))

        def _parse_teams(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                teams_type_0 = cast(list[str], data)

                return teams_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        teams = _parse_teams(d.pop("teams", UNSET))

        webhook_filter = cls(
            kinds=kinds,
            manager_id=manager_id,
            min_severity=min_severity,
            min_value_at_risk=min_value_at_risk,
            teams=teams,
        )

        return webhook_filter
