from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.ack import Ack


T = TypeVar("T", bound="AlertItem")


@_attrs_define
class AlertItem:
    """One alert on the feed: the alert's fields, its cursor and its acknowledgement.

    Attributes:
        ack (Ack | None): null until acknowledged; the first acknowledgement is kept.
        alert_id (str):
        cursor (str): Position on the feed (a Redis stream id); stable, usable as cursor/after/Last-Event-ID.
        deal_id (str):
        kind (str): late_stage_discount, discount_info for an early/mid deal, or a pipeline-movement kind:
            close_date_pushed, qualification_gap, stalled (docs/movement.md).
        account (None | str | Unset):
        amount (float | None | Unset):
        currency (None | str | Unset):
        discount_pct (float | None | Unset):
        discount_reason (None | str | Unset):
        event_id (None | str | Unset):
        manager_id (None | str | Unset):
        name (None | str | Unset):
        occurred_at (None | str | Unset):
        owner_id (None | str | Unset):
        phase (None | str | Unset):
        requested_by (None | str | Unset):
        severity (None | str | Unset):
        stage (None | str | Unset):
        team (None | str | Unset):
        value_at_risk (float | None | Unset):
    """

    ack: Ack | None
    alert_id: str
    cursor: str
    deal_id: str
    kind: str
    account: None | str | Unset = UNSET
    amount: float | None | Unset = UNSET
    currency: None | str | Unset = UNSET
    discount_pct: float | None | Unset = UNSET
    discount_reason: None | str | Unset = UNSET
    event_id: None | str | Unset = UNSET
    manager_id: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    occurred_at: None | str | Unset = UNSET
    owner_id: None | str | Unset = UNSET
    phase: None | str | Unset = UNSET
    requested_by: None | str | Unset = UNSET
    severity: None | str | Unset = UNSET
    stage: None | str | Unset = UNSET
    team: None | str | Unset = UNSET
    value_at_risk: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.ack import Ack  # noqa: PLC0415

        ack: dict[str, Any] | None
        if isinstance(self.ack, Ack):
            ack = self.ack.to_dict()
        else:
            ack = self.ack

        alert_id = self.alert_id

        cursor = self.cursor

        deal_id = self.deal_id

        kind = self.kind

        account: None | str | Unset
        if isinstance(self.account, Unset):
            account = UNSET
        else:
            account = self.account

        amount: float | None | Unset
        if isinstance(self.amount, Unset):
            amount = UNSET
        else:
            amount = self.amount

        currency: None | str | Unset
        if isinstance(self.currency, Unset):
            currency = UNSET
        else:
            currency = self.currency

        discount_pct: float | None | Unset
        if isinstance(self.discount_pct, Unset):
            discount_pct = UNSET
        else:
            discount_pct = self.discount_pct

        discount_reason: None | str | Unset
        if isinstance(self.discount_reason, Unset):
            discount_reason = UNSET
        else:
            discount_reason = self.discount_reason

        event_id: None | str | Unset
        if isinstance(self.event_id, Unset):
            event_id = UNSET
        else:
            event_id = self.event_id

        manager_id: None | str | Unset
        if isinstance(self.manager_id, Unset):
            manager_id = UNSET
        else:
            manager_id = self.manager_id

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        else:
            occurred_at = self.occurred_at

        owner_id: None | str | Unset
        if isinstance(self.owner_id, Unset):
            owner_id = UNSET
        else:
            owner_id = self.owner_id

        phase: None | str | Unset
        if isinstance(self.phase, Unset):
            phase = UNSET
        else:
            phase = self.phase

        requested_by: None | str | Unset
        if isinstance(self.requested_by, Unset):
            requested_by = UNSET
        else:
            requested_by = self.requested_by

        severity: None | str | Unset
        if isinstance(self.severity, Unset):
            severity = UNSET
        else:
            severity = self.severity

        stage: None | str | Unset
        if isinstance(self.stage, Unset):
            stage = UNSET
        else:
            stage = self.stage

        team: None | str | Unset
        if isinstance(self.team, Unset):
            team = UNSET
        else:
            team = self.team

        value_at_risk: float | None | Unset
        if isinstance(self.value_at_risk, Unset):
            value_at_risk = UNSET
        else:
            value_at_risk = self.value_at_risk

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ack": ack,
                "alert_id": alert_id,
                "cursor": cursor,
                "deal_id": deal_id,
                "kind": kind,
            }
        )
        if account is not UNSET:
            field_dict["account"] = account
        if amount is not UNSET:
            field_dict["amount"] = amount
        if currency is not UNSET:
            field_dict["currency"] = currency
        if discount_pct is not UNSET:
            field_dict["discount_pct"] = discount_pct
        if discount_reason is not UNSET:
            field_dict["discount_reason"] = discount_reason
        if event_id is not UNSET:
            field_dict["event_id"] = event_id
        if manager_id is not UNSET:
            field_dict["manager_id"] = manager_id
        if name is not UNSET:
            field_dict["name"] = name
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if owner_id is not UNSET:
            field_dict["owner_id"] = owner_id
        if phase is not UNSET:
            field_dict["phase"] = phase
        if requested_by is not UNSET:
            field_dict["requested_by"] = requested_by
        if severity is not UNSET:
            field_dict["severity"] = severity
        if stage is not UNSET:
            field_dict["stage"] = stage
        if team is not UNSET:
            field_dict["team"] = team
        if value_at_risk is not UNSET:
            field_dict["value_at_risk"] = value_at_risk

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ack import Ack  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_ack(data: object) -> Ack | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                ack_type_0 = Ack.from_dict(data)

                return ack_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Ack | None, data)

        ack = _parse_ack(d.pop("ack"))

        alert_id = d.pop("alert_id")

        cursor = d.pop("cursor")

        deal_id = d.pop("deal_id")

        kind = d.pop("kind")

        def _parse_account(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        account = _parse_account(d.pop("account", UNSET))

        def _parse_amount(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        amount = _parse_amount(d.pop("amount", UNSET))

        def _parse_currency(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        currency = _parse_currency(d.pop("currency", UNSET))

        def _parse_discount_pct(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        discount_pct = _parse_discount_pct(d.pop("discount_pct", UNSET))

        def _parse_discount_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        discount_reason = _parse_discount_reason(d.pop("discount_reason", UNSET))

        def _parse_event_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        event_id = _parse_event_id(d.pop("event_id", UNSET))

        def _parse_manager_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        manager_id = _parse_manager_id(d.pop("manager_id", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_occurred_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at", UNSET))

        def _parse_owner_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner_id = _parse_owner_id(d.pop("owner_id", UNSET))

        def _parse_phase(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        phase = _parse_phase(d.pop("phase", UNSET))

        def _parse_requested_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        requested_by = _parse_requested_by(d.pop("requested_by", UNSET))

        def _parse_severity(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        severity = _parse_severity(d.pop("severity", UNSET))

        def _parse_stage(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        stage = _parse_stage(d.pop("stage", UNSET))

        def _parse_team(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        team = _parse_team(d.pop("team", UNSET))

        def _parse_value_at_risk(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        value_at_risk = _parse_value_at_risk(d.pop("value_at_risk", UNSET))

        alert_item = cls(
            ack=ack,
            alert_id=alert_id,
            cursor=cursor,
            deal_id=deal_id,
            kind=kind,
            account=account,
            amount=amount,
            currency=currency,
            discount_pct=discount_pct,
            discount_reason=discount_reason,
            event_id=event_id,
            manager_id=manager_id,
            name=name,
            occurred_at=occurred_at,
            owner_id=owner_id,
            phase=phase,
            requested_by=requested_by,
            severity=severity,
            stage=stage,
            team=team,
            value_at_risk=value_at_risk,
        )

        alert_item.additional_properties = d
        return alert_item

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
