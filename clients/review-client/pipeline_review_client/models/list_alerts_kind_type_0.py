from enum import StrEnum


class ListAlertsKindType0(StrEnum):
    CLOSE_DATE_PUSHED = "close_date_pushed"
    DISCOUNT_INFO = "discount_info"
    LATE_STAGE_DISCOUNT = "late_stage_discount"
    QUALIFICATION_GAP = "qualification_gap"
    STALLED = "stalled"

    def __str__(self) -> str:
        return str(self.value)
