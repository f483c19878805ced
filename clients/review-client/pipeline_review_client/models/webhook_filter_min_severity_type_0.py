from enum import StrEnum


class WebhookFilterMinSeverityType0(StrEnum):
    HIGH = "high"
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"

    def __str__(self) -> str:
        return str(self.value)
