"""Settings shared by all services. Nothing else in the project reads ``os.environ``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .keys import RedisKeys
from .topics import DEAD_LETTER, DEAL_ALERTS, DEAL_EVENTS

DEFAULT_STAGE_MAP = Path(__file__).with_name("stage_maps.toml")


class CommonSettings(BaseSettings):
    """Where Kafka and Redis are, and how names are laid out (prefix ``PR_``)."""

    model_config = SettingsConfigDict(env_prefix="PR_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL of the read model.")
    topic_prefix: str = Field("", description="Prefix for every topic name (isolates environments).")
    redis_prefix: str = Field("pr", description="Prefix for every Redis key.")
    redis_timeout: float = Field(
        2.0, ge=1.5,
        description="Longest wait (s) to connect to Redis or for one reply; then review answers 503 and the scoring "
                    "worker retries. At least 1.5: live alert streams block 1 s per read.",
    )
    deal_event_partitions: int = Field(6, ge=1, description="Partitions of deal-events when the project creates it.")
    stage_map_file: Path = Field(DEFAULT_STAGE_MAP, description="TOML file mapping CRM stages to journey phases.")

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
        return RedisKeys(self.redis_prefix)
