"""Settings of the review service (prefix ``PR_REVIEW_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_review.shared.settings import CommonSettings


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PR_REVIEW_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address review listens on.")
    port: int = Field(8002, description="Port review listens on.")
    manager_horizon_quarters: int = Field(1, ge=1, le=8, description="Quarters the manager list covers, from the current one.")
    log_level: str = Field("info", description="Log level.")
    common: CommonSettings = Field(default_factory=CommonSettings)
