from enum import StrEnum


class WebhookDetailFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"

    def __str__(self) -> str:
        return str(self.value)
