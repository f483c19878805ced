from enum import StrEnum


class Decision(StrEnum):
    APPROVED = "approved"
    COUNTERED = "countered"
    REJECTED = "rejected"

    def __str__(self) -> str:
        return str(self.value)
