"""The webhook delivery settings (``PR_REVIEW_WEBHOOK_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .guard import Network, parse_networks


class WebhookSettings(BaseSettings):
    """Outgoing webhook delivery (prefix ``PR_REVIEW_WEBHOOK_``)."""

    model_config = SettingsConfigDict(env_prefix="PR_REVIEW_WEBHOOK_", extra="ignore")

    enabled: bool = Field(True, description="Run the webhook delivery service in review.")
    max_attempts: int = Field(
        8, ge=1, le=50, description="Delivery attempts per alert and subscription, the first included."
    )
    backoff_base: float = Field(2.0, gt=0, description="Delay (s) before the first retry; doubles per failure.")
    backoff_max: float = Field(600.0, gt=0, description="Longest delay (s) between attempts, Retry-After included.")
    timeout: float = Field(10.0, gt=0, description="Longest time (s) one delivery attempt may take.")
    concurrency: int = Field(32, ge=1, le=1000, description="Most deliveries in flight per review instance.")
    consumer_group: str = Field(
        "pr-webhooks", min_length=1, description="Redis consumer group reading the alert stream."
    )
    claim_idle: float = Field(
        60.0, gt=0, description="Alerts unacknowledged this long (s) by a dead instance are taken over."
    )
    poll_interval: float = Field(
        1.0, gt=0, le=30, description="Longest wait (s) between checks for new alerts and due retries."
    )
    allow_nets: str | None = Field(
        None,
        description="CIDR networks webhooks may reach although they are not public "
        "(loopback, private, ...), comma separated, e.g. `10.20.0.0/16,fd00:1::/64`.",
    )
    max_per_caller: int = Field(
        25, ge=1, le=10_000, description="Most subscriptions one caller (API key name) may hold; one more is a 409."
    )

    @field_validator("allow_nets")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        parse_networks(value)  # refuse a typo at start rather than at the first delivery
        return value

    @property
    def allowed_networks(self) -> tuple[Network, ...]:
        """``allow_nets`` parsed."""
        return parse_networks(self.allow_nets)
