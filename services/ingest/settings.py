"""Settings of the ingest service (prefix ``PR_INGEST_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_review.shared.settings import CommonSettings


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PR_INGEST_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address ingest listens on.")
    port: int = Field(8001, description="Port ingest listens on.")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes).")
    max_batch: int = Field(1000, ge=1, description="Most events in one POST /v1/events batch.")
    kafka_timeout: float = Field(15.0, gt=0, description="Longest wait (s) for Kafka to acknowledge a request.")
    hubspot_client_secret: SecretStr | None = Field(None, description="HubSpot app secret; when set, v3 signatures are checked.")
    hubspot_discount_property: str = Field("discount_requested_pct", description="HubSpot deal property holding a requested discount (%).")
    hubspot_max_signature_age: float = Field(300.0, gt=0, description="Oldest accepted HubSpot signature timestamp (s).")
    pipedrive_user: str | None = Field(None, description="Basic-auth user expected on Pipedrive webhooks.")
    pipedrive_password: SecretStr | None = Field(None, description="Basic-auth password expected on Pipedrive webhooks.")
    log_level: str = Field("info", description="Log level.")
    common: CommonSettings = Field(default_factory=CommonSettings)
