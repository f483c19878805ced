"""The records on deal-alerts and deal-events-dlq, as pydantic models: their one written contract.

The alert record is services/shared/alerts.py's ``Alert``, the model scoring raises and review
reads; ingest's dead_letter_record builds a plain dict that ``DeadLetterRecord`` describes.
These models describe the records for integrators (the AsyncAPI document,
services/shared/asyncapi.py) and a test holds them to what the producers write.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeadLetterRecord(BaseModel):
    """An item ingest received but could not map; keyed by the source's name on deal-events-dlq."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": "hubspot",
                    "reason": "objectId: missing",
                    "received_at": "2026-11-20T09:30:00+00:00",
                    "payload": {"subscriptionType": "deal.propertyChange", "propertyName": "amount"},
                }
            ]
        },
    )

    source: str = Field(description="The CRM route (or plug-in) that received the item.")
    reason: str = Field(description="Why it could not be mapped; fix the mapping, then replay the payload.")
    received_at: AwareDatetime
    payload: Any = Field(description="The item as received, to replay it after a fix.")
