"""Settings of the review service (prefix ``PR_REVIEW_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.settings import CommonSettings

from .webhooks import WebhookSettings


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PR_REVIEW_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address review listens on.")
    port: int = Field(8002, description="Port review listens on.")
    manager_horizon_quarters: int = Field(
        1, ge=1, le=8, description="Quarters the manager list covers, from the current one."
    )
    log_level: str = Field("info", description="Log level.")
    alert_feed_enabled: bool = Field(
        True, description="Consume deal-alerts into the Redis alert feed (turn off only in tests of other parts)."
    )
    alert_group: str = Field(
        "pr-review-alerts", description="Consumer group of the alert feed (PR_TOPIC_PREFIX is put in front of it)."
    )
    alert_retention_days: float = Field(
        90,
        ge=0,
        description="Days the alert feed keeps an alert (with its ack) after it was added; 0 keeps every alert.",
    )
    alert_trim_interval: float = Field(
        3600.0, gt=0, description="Seconds between trims of the alert feed to its retention."
    )
    stream_heartbeat: float = Field(15.0, gt=0, description="Seconds between heartbeats on idle SSE/WebSocket streams.")
    stream_queue_size: int = Field(
        1000, ge=1, description="Alerts buffered per live-stream client; a client that falls further behind is dropped."
    )
    stream_send_timeout: float = Field(
        10.0, gt=0, description="Longest wait (s) to hand one message to a live-stream client before dropping it."
    )
    stream_token_ttl: float = Field(
        60.0,
        gt=0,
        le=60,
        description="Seconds a live-stream token (POST /v1/alerts/stream-token) stays valid; at most 60.",
    )
    max_scan_rows: int = Field(
        5000,
        ge=1,
        description="Most ranking rows or feed entries one list/alert page reads; a filtered page cut short "
        "by it still returns a next_cursor to continue from.",
    )
    api_keys: SecretStr | None = Field(
        None,
        description="API keys: JSON list of {key, role, teams?, name?} or `key:role[:team1|team2]`, comma separated.",
    )
    api_keys_file: Path | None = Field(
        None, description="JSON or TOML file of API keys (same entries as PR_REVIEW_API_KEYS)."
    )
    action_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Longest wait (s) for Kafka to acknowledge a manager action (review, help, "
        "decision); past it the action is answered 503 and not recorded.",
    )
    high_severity_decision_role: Literal["admin", "manager"] = Field(
        "admin",
        description="Least role that may decide a discount on a `high` severity alert: admin (default) or "
        "manager (a manager key, for its teams' alerts).",
    )
    scorecard_leader_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Verdict line: an actor whose leader_share is at least this (and whose late "
        "discount intensity is at most PR_REVIEW_SCORECARD_DISCOUNT_INTENSITY) is a `leader` (docs/scorecard.md).",
    )
    scorecard_discount_intensity: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Verdict line: late discount value per won amount at or below which an actor "
        "gives little away (docs/scorecard.md).",
    )
    scorecard_max_rows: int = Field(
        100_000,
        ge=1,
        description="Most scorecard rows (one per deal-events partition, team and actor) one scorecard "
        "request reads for a quarter; past it the answer is a 503 naming this setting, never a partial scorecard.",
    )
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    common: CommonSettings = Field(default_factory=CommonSettings)
