"""Settings of the ingest service (prefix ``PR_INGEST_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.settings import CommonSettings


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PR_INGEST_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address ingest listens on.")
    port: int = Field(8001, description="Port ingest listens on.")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes).")
    max_batch: int = Field(1000, ge=1, description="Most events in one POST /v1/events batch.")
    kafka_timeout: float = Field(
        5.0, gt=0, description="Longest wait (s) for Kafka to acknowledge a request; after it the request gets 503."
    )
    kafka_fast_fail: float = Field(
        2.0,
        ge=0,
        description="After Kafka failed a request, answer 503 at once for this long (s) before trying it again.",
    )
    kafka_max_pending: int = Field(
        20_000, ge=1, description="Most events waiting for Kafka's acknowledgement at once; more get 503 at once."
    )
    kafka_max_pending_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most bytes of events waiting for Kafka's acknowledgement at once; more get 503 at once.",
    )
    retry_after: int = Field(5, ge=1, description="Retry-After (s) sent with a 503 when Kafka is unavailable.")
    api_keys: SecretStr | None = Field(
        None,
        description="Ingest API keys: JSON list of {key, name?, sources?} or `key[:source1|source2]`, comma separated. "
        "A key listing no sources may post `api` and `csv`. None configured: ingest runs open (loopback only).",
    )
    api_keys_file: Path | None = Field(
        None, description="JSON or TOML file of ingest API keys (same entries as PR_INGEST_API_KEYS)."
    )
    max_clock_skew: float = Field(
        300.0,
        ge=0,
        description="Most seconds an event's occurred_at may lie ahead of ingest's clock; later ones are refused.",
    )
    rate_limit: str = Field(
        "100/second",
        description="Requests allowed per ingest key (per client address when open), as `N/second|minute|hour`; "
        "more answer 429 with Retry-After.",
    )
    rate_limit_storage: str = Field(
        "async+memory://",
        description="Where rate-limit counters live: `async+memory://`, or `async+redis://host:port/db` to share them between replicas.",
    )
    salesforce_token: SecretStr | None = Field(
        None,
        description="Bearer token the Salesforce CDC relay sends (`Authorization: Bearer ...`); unset: the route answers 503.",
    )
    hubspot_client_secret: SecretStr | None = Field(
        None,
        description="HubSpot app secret checking v3 signatures; unset: the route answers 503 (accepts all when open).",
    )
    hubspot_discount_property: str = Field(
        "discount_requested_pct", description="HubSpot deal property holding a requested discount (%)."
    )
    hubspot_max_signature_age: float = Field(
        300.0, gt=0, description="Oldest accepted HubSpot signature timestamp (s)."
    )
    pipedrive_user: str | None = Field(
        None,
        description="Basic-auth user expected on Pipedrive webhooks; unset: the route answers 503 (accepts all when open).",
    )
    pipedrive_password: SecretStr | None = Field(
        None, description="Basic-auth password expected on Pipedrive webhooks."
    )
    log_level: str = Field("info", description="Log level.")
    common: CommonSettings = Field(default_factory=CommonSettings)
