from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.ack import Ack
    from ..models.alert_item_decision_type_0 import AlertItemDecisionType0


T = TypeVar("T", bound="AlertItem")


@_attrs_define
class AlertItem:
    """One alert on the feed: the alert's fields, its cursor and its acknowledgement.

    Attributes:
        ack (Ack | None): null until acknowledged; the first acknowledgement is kept.
        alert_id (str): Deterministic from the deal and what raised the alert (the event, or for stalled the stage
            entry): the same cause gives the same id, so a reader deduplicates by it (delivery is at least once).
        cursor (str): Position on the feed (a Redis stream id); stable, usable as cursor/after/Last-Event-ID.
        deal_id (str):
        kind (str): late_stage_discount (a late-phase deal), discount_info (early or mid), or a pipeline-movement kind:
            close_date_pushed, qualification_gap, stalled (docs/movement.md).
        account (None | str | Unset):
        amount (float | None | Unset):
        currency (None | str | Unset):
        days_in_stage (int | None | Unset): stalled: whole days in the current stage when raised.
        decision (AlertItemDecisionType0 | None | Unset): The latest discount decision (POST
            /v1/alerts/{alert_id}/decision): decision, discount_pct granted, by, at, event_id; null until decided.
        discount_pct (float | None | Unset): Discount kinds: the requested discount in percent, 0-100.
        discount_reason (None | str | Unset):
        event_id (None | str | Unset): The deal event that raised the alert; null for stalled, which the passage of time
            raises.
        from_close_date (None | str | Unset): close_date_pushed: the close date before the push.
        manager_id (None | str | Unset):
        missing (list[str] | None | Unset): qualification_gap: the qualification items not known as the deal entered the
            late phase.
        name (None | str | Unset):
        occurred_at (None | str | Unset): When it happened (ISO 8601): the event's time, or for stalled the moment the
            deal became stalled.
        owner_id (None | str | Unset):
        phase (None | str | Unset): The deal's journey phase after the event: early, mid or late.
        potential_value (float | None | Unset): stalled: the deal's potential value.
        push_count (int | None | Unset): close_date_pushed: how often the close date left its quarter so far.
        requested_by (None | str | Unset):
        severity (None | str | Unset): high, medium or low by amount (by potential value for stalled); info for
            discount_info.
        stage (None | str | Unset):
        stage_entered_at (None | str | Unset): stalled: when the deal entered its current stage.
        stall_days (float | None | Unset): stalled: the stage's limit from the stage map.
        team (None | str | Unset):
        to_close_date (None | str | Unset): close_date_pushed: the close date after the push.
        value_at_risk (float | None | Unset): Discount kinds: amount x discount_pct / 100, rounded to cents.
    """

    ack: Ack | None
    alert_id: str
    cursor: str
    deal_id: str
    kind: str
    account: None | str | Unset = UNSET
    amount: float | None | Unset = UNSET
    currency: None | str | Unset = UNSET
    days_in_stage: int | None | Unset = UNSET
    decision: AlertItemDecisionType0 | None | Unset = UNSET
    discount_pct: float | None | Unset = UNSET
    discount_reason: None | str | Unset = UNSET
    event_id: None | str | Unset = UNSET
    from_close_date: None | str | Unset = UNSET
    manager_id: None | str | Unset = UNSET
    missing: list[str] | None | Unset = UNSET
    name: None | str | Unset = UNSET
    occurred_at: None | str | Unset = UNSET
    owner_id: None | str | Unset = UNSET
    phase: None | str | Unset = UNSET
    potential_value: float | None | Unset = UNSET
    push_count: int | None | Unset = UNSET
    requested_by: None | str | Unset = UNSET
    severity: None | str | Unset = UNSET
    stage: None | str | Unset = UNSET
    stage_entered_at: None | str | Unset = UNSET
    stall_days: float | None | Unset = UNSET
    team: None | str | Unset = UNSET
    to_close_date: None | str | Unset = UNSET
    value_at_risk: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.ack import Ack  # noqa: PLC0415
        from ..models.alert_item_decision_type_0 import AlertItemDecisionType0  # noqa: PLC0415

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

        days_in_stage: int | None | Unset
        if isinstance(self.days_in_stage, Unset):
            days_in_stage = UNSET
        else:
            days_in_stage = self.days_in_stage

        decision: dict[str, Any] | None | Unset
        if isinstance(self.decision, Unset):
            decision = UNSET
        elif isinstance(self.decision, AlertItemDecisionType0):
            decision = self.decision.to_dict()
        else:
            decision = self.decision

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

        from_close_date: None | str | Unset
        if isinstance(self.from_close_date, Unset):
            from_close_date = UNSET
        else:
            from_close_date = self.from_close_date

        manager_id: None | str | Unset
        if isinstance(self.manager_id, Unset):
            manager_id = UNSET
        else:
            manager_id = self.manager_id

        missing: list[str] | None | Unset
        if isinstance(self.missing, Unset):
            missing = UNSET
        elif isinstance(self.missing, list):
            missing = self.missing

        else:
            missing = self.missing

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

        potential_value: float | None | Unset
        if isinstance(self.potential_value, Unset):
            potential_value = UNSET
        else:
            potential_value = self.potential_value

        push_count: int | None | Unset
        if isinstance(self.push_count, Unset):
            push_count = UNSET
        else:
            push_count = self.push_count

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

        stage_entered_at: None | str | Unset
        if isinstance(self.stage_entered_at, Unset):
            stage_entered_at = UNSET
        else:
            stage_entered_at = self.stage_entered_at

        stall_days: float | None | Unset
        if isinstance(self.stall_days, Unset):
            stall_days = UNSET
        else:
            stall_days = self.stall_days

        team: None | str | Unset
        if isinstance(self.team, Unset):
            team = UNSET
        else:
            team = self.team

        to_close_date: None | str | Unset
        if isinstance(self.to_close_date, Unset):
            to_close_date = UNSET
        else:
            to_close_date = self.to_close_date

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
        if days_in_stage is not UNSET:
            field_dict["days_in_stage"] = days_in_stage
        if decision is not UNSET:
            field_dict["decision"] = decision
        if discount_pct is not UNSET:
            field_dict["discount_pct"] = discount_pct
        if discount_reason is not UNSET:
            field_dict["discount_reason"] = discount_reason
        if event_id is not UNSET:
            field_dict["event_id"] = event_id
        if from_close_date is not UNSET:
            field_dict["from_close_date"] = from_close_date
        if manager_id is not UNSET:
            field_dict["manager_id"] = manager_id
        if missing is not UNSET:
            field_dict["missing"] = missing
        if name is not UNSET:
            field_dict["name"] = name
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if owner_id is not UNSET:
            field_dict["owner_id"] = owner_id
        if phase is not UNSET:
            field_dict["phase"] = phase
        if potential_value is not UNSET:
            field_dict["potential_value"] = potential_value
        if push_count is not UNSET:
            field_dict["push_count"] = push_count
        if requested_by is not UNSET:
            field_dict["requested_by"] = requested_by
        if severity is not UNSET:
            field_dict["severity"] = severity
        if stage is not UNSET:
            field_dict["stage"] = stage
        if stage_entered_at is not UNSET:
            field_dict["stage_entered_at"] = stage_entered_at
        if stall_days is not UNSET:
            field_dict["stall_days"] = stall_days
        if team is not UNSET:
            field_dict["team"] = team
        if to_close_date is not UNSET:
            field_dict["to_close_date"] = to_close_date
        if value_at_risk is not UNSET:
            field_dict["value_at_risk"] = value_at_risk

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ack import Ack  # noqa: PLC0415
        from ..models.alert_item_decision_type_0 import AlertItemDecisionType0  # noqa: PLC0415

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

        def _parse_days_in_stage(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        days_in_stage = _parse_days_in_stage(d.pop("days_in_stage", UNSET))

        def _parse_decision(data: object) -> AlertItemDecisionType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                decision_type_0 = AlertItemDecisionType0.from_dict(data)

                return decision_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AlertItemDecisionType0 | None | Unset, data)

        decision = _parse_decision(d.pop("decision", UNSET))

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

        def _parse_from_close_date(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        from_close_date = _parse_from_close_date(d.pop("from_close_date", UNSET))

        def _parse_manager_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        manager_id = _parse_manager_id(d.pop("manager_id", UNSET))

        def _parse_missing(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                missing_type_0 = cast(list[str], data)

                return missing_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        missing = _parse_missing(d.pop("missing", UNSET))

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

        def _parse_potential_value(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        potential_value = _parse_potential_value(d.pop("potential_value", UNSET))

        def _parse_push_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        push_count = _parse_push_count(d.pop("push_count", UNSET))

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

        def _parse_stage_entered_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        stage_entered_at = _parse_stage_entered_at(d.pop("stage_entered_at", UNSET))

        def _parse_stall_days(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        stall_days = _parse_stall_days(d.pop("stall_days", UNSET))

        def _parse_team(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        team = _parse_team(d.pop("team", UNSET))

        def _parse_to_close_date(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        to_close_date = _parse_to_close_date(d.pop("to_close_date", UNSET))

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
            days_in_stage=days_in_stage,
            decision=decision,
            discount_pct=discount_pct,
            discount_reason=discount_reason,
            event_id=event_id,
            from_close_date=from_close_date,
            manager_id=manager_id,
            missing=missing,
            name=name,
            occurred_at=occurred_at,
            owner_id=owner_id,
            phase=phase,
            potential_value=potential_value,
            push_count=push_count,
            requested_by=requested_by,
            severity=severity,
            stage=stage,
            stage_entered_at=stage_entered_at,
            stall_days=stall_days,
            team=team,
            to_close_date=to_close_date,
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
