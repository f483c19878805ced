"""Settings shared by all services. Nothing else in the project reads ``os.environ``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .keys import RedisKeys, hash_tagged
from .topics import DEAD_LETTER, DEAL_ALERTS, DEAL_EVENTS

DEFAULT_STAGE_MAP = Path(__file__).with_name("stage_maps.toml")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class CommonSettings(BaseSettings):
    """Where Kafka and Redis are, and how names are laid out (prefix ``PR_``)."""

    # hide_input_in_errors: a validation error must never echo the Redis URL or a password.
    model_config = SettingsConfigDict(
        env_prefix="PR_", extra="ignore", hide_input_in_errors=True, populate_by_name=True
    )

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); required with a SASL_* protocol."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name; required with a SASL_* protocol.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with a SASL_* protocol. Never logged."
    )
    kafka_ssl_cafile: FilePath | None = Field(
        None,
        description="PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL); "
        "unset: the system's trust store.",
    )
    redis_url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"),
        description="Redis URL of the read model: redis://, rediss:// (TLS) or unix://, may carry "
        "user:password@ (ACL) and ?ssl_ca_certs=<PEM file>. A secret: never logged.",
    )
    redis_cluster: bool = Field(
        False,
        description="PR_REDIS_URL names one node of a Redis Cluster (redis-py's RedisCluster finds the others); "
        "every key then carries the hash tag {PR_REDIS_PREFIX}, so all keys share one slot and multi-key commands and "
        "scripts work.",
    )
    topic_prefix: str = Field("", description="Prefix for every topic name (isolates environments).")
    redis_prefix: str = Field("pr", description="Prefix for every Redis key.")
    redis_timeout: float = Field(
        2.0,
        ge=1.5,
        description="Longest wait (s) to connect to Redis or for one reply; then review answers 503 and the scoring "
        "worker retries. At least 1.5: live alert streams block 1 s per read.",
    )
    deal_event_partitions: int = Field(6, ge=1, description="Partitions of deal-events when the project creates it.")
    topic_replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of every topic the project creates (deal-events, deal-alerts, dead letters, "
        "the scoring worker's changelog and assignor topics); 3 on a three-broker cluster.",
    )
    topic_min_insync_replicas: int = Field(
        1,
        ge=1,
        description="min.insync.replicas of those topics: an acks=all write (ingest, the scoring worker) is "
        "acknowledged once this many replicas have it, and refused when fewer are in sync; 2 with 3 replicas.",
    )
    dead_letter_retention_days: float = Field(
        30,
        ge=0,
        description="Days the dead-letter topic keeps a payload (0: forever); pr-admin create-topics applies it, also to an existing topic.",
    )
    stage_map_file: Path = Field(DEFAULT_STAGE_MAP, description="TOML file mapping CRM stages to journey phases.")
    allow_open: bool = Field(
        False,
        description="Let ingest and review run without API keys on a non-loopback address (logged at every start).",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token Prometheus sends to read /metrics (Authorization: Bearer). Unset: /metrics is "
        "open only while the service itself runs open (no API keys, loopback or PR_ALLOW_OPEN), else 401. A secret.",
    )
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("PR_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector URL (http://collector:4318) to send traces to; the standard "
        "OTEL_EXPORTER_OTLP_ENDPOINT is read too. Unset: no tracing at all (no spans, no Kafka trace headers).",
    )

    @field_validator("redis_url")
    @classmethod
    def _known_redis_scheme(cls, url: SecretStr) -> SecretStr:
        if not url.get_secret_value().startswith(REDIS_SCHEMES):
            # The URL itself is not repeated: it may carry a password.
            raise ValueError("PR_REDIS_URL must start with redis://, rediss:// or unix://")
        return url

    @model_validator(mode="after")
    def _cluster_url_names_a_node(self) -> CommonSettings:
        if not self.redis_cluster:
            return self
        try:
            hash_tagged(self.redis_prefix)
        except ValueError as exc:
            raise ValueError(
                f"PR_REDIS_CLUSTER=true needs a PR_REDIS_PREFIX that becomes the keys' hash tag: {exc}"
            ) from None
        url = urlsplit(self.redis_url.get_secret_value())
        if url.scheme == "unix":
            raise ValueError(
                "PR_REDIS_CLUSTER=true needs a redis:// or rediss:// PR_REDIS_URL: a cluster has no unix socket"
            )
        if url.path.strip("/") not in ("", "0"):
            # Only the database number is named: the URL may carry a password.
            raise ValueError(
                "PR_REDIS_CLUSTER=true needs database 0 in PR_REDIS_URL (a Redis Cluster has only that one)"
            )
        return self

    @model_validator(mode="after")
    def _min_insync_fits_the_replicas(self) -> CommonSettings:
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            # Kafka would accept such a topic and then refuse every acks=all write to it.
            raise ValueError(
                f"PR_TOPIC_MIN_INSYNC_REPLICAS={self.topic_min_insync_replicas} is more than "
                f"PR_TOPIC_REPLICATION_FACTOR={self.topic_replication_factor}: no write could be acknowledged"
            )
        return self

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> CommonSettings:
        protocol = self.kafka_security_protocol
        if protocol in SASL_PROTOCOLS:
            missing = [
                name
                for name, value in (
                    ("PR_KAFKA_SASL_MECHANISM", self.kafka_sasl_mechanism),
                    ("PR_KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                    ("PR_KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"PR_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}")
        elif self.kafka_sasl_mechanism or self.kafka_sasl_username or self.kafka_sasl_password:
            # Credentials that would silently go unused are a configuration mistake.
            raise ValueError(
                f"PR_KAFKA_SASL_* is set but PR_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL; "
                "set it to SASL_SSL or SASL_PLAINTEXT"
            )
        if self.kafka_ssl_cafile and protocol not in TLS_PROTOCOLS:
            raise ValueError(
                f"PR_KAFKA_SSL_CAFILE is set but PR_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS; "
                "set it to SSL or SASL_SSL"
            )
        return self

    @property
    def deal_events_topic(self) -> str:
        return self.topic_prefix + DEAL_EVENTS

    @property
    def deal_alerts_topic(self) -> str:
        return self.topic_prefix + DEAL_ALERTS

    @property
    def dead_letter_topic(self) -> str:
        return self.topic_prefix + DEAD_LETTER

    @property
    def keys(self) -> RedisKeys:
        return RedisKeys(hash_tagged(self.redis_prefix) if self.redis_cluster else self.redis_prefix)
