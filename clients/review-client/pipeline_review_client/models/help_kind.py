from enum import StrEnum


class HelpKind(StrEnum):
    ACCELERATION = "acceleration"
    ACCESS = "access"
    DISCOUNT = "discount"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    QUALIFICATION = "qualification"

    def __str__(self) -> str:
        return str(self.value)
