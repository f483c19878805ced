"""Settings of the scoring worker (prefix ``PR_SCORING_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.settings import CommonSettings


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PR_SCORING_", extra="ignore")

    app_id: str = Field("pr-scoring", description="Faust app id = consumer group and changelog topic prefix.")
    web_host: str = Field("127.0.0.1", description="Host of the worker's health endpoints.")
    web_port: int = Field(8003, description="Port of the worker's health endpoints (/healthz, /readyz).")
    batch_size: int = Field(500, ge=1, description="Most events folded per Redis round trip.")
    batch_within: float = Field(0.05, gt=0, description="Longest wait (s) to fill a batch.")
    session_timeout: float = Field(10.0, gt=0, description="Kafka consumer session timeout (s).")
    heartbeat_interval: float = Field(1.0, gt=0, description="Kafka consumer heartbeat interval (s).")
    exactly_once: bool = Field(
        True, description="Kafka transactions: table changelog, alerts and consumed offsets commit together."
    )
    # With exactly-once, alerts become visible to read_committed readers (review) only at the
    # commit, so faust's default of 2.8 s would be most of an alert's delay.
    commit_interval: float = Field(
        0.2,
        gt=0,
        description="How often (s) offsets are committed; with exactly_once, also how long a new alert waits to become visible.",
    )
    # aiokafka's default of 60 s aborts the open transaction of a worker whose broker is away
    # longer (a restart on a loaded machine took 84 s); its next commit is then ProducerFenced
    # and the worker dies. The broker caps it at transaction.max.timeout.ms (15 min by default).
    transaction_timeout: float = Field(
        300.0,
        gt=0,
        le=900,
        description="Kafka transaction timeout (s) with exactly_once: how long a broker outage the "
        "worker rides out without being fenced (at most the broker's transaction.max.timeout.ms, 900 s by default).",
    )
    redis_check_interval: float = Field(
        1.0,
        gt=0,
        description="How often (s) the worker checks that Redis still holds its partitions (a restart or wipe "
        "makes it rewrite them from the deal table).",
    )
    redis_max_backoff: float = Field(
        2.0,
        gt=0,
        description="Longest pause (s) between retries of a Redis write while Redis is unreachable.",
    )
    data_dir: str = Field(
        ".run/scoring",
        description="Faust's local data directory, created with its parents; a relative path is taken from the working directory.",
    )
    deleted_grace_days: float = Field(
        30,
        ge=0,
        description="Days a deleted deal's card stays readable (GET /v1/deals/{id}) after its deletion in the CRM.",
    )
    deleted_sweep_interval: float = Field(
        3600.0, gt=0, description="Seconds between sweeps removing deleted deals' cards past their grace period."
    )
    push_horizon_quarters: int = Field(
        1,
        ge=1,
        le=8,
        description="Quarters, from the one of the event, that a close date must leave to raise "
        "close_date_pushed; keep it equal to PR_REVIEW_MANAGER_HORIZON_QUARTERS.",
    )
    stall_check_interval: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Seconds between the worker's reads of its stall due-time index; a deal's "
        "stalled alert comes at most this long after the deal stalled.",
    )
    store: Literal["memory", "rocksdb"] = Field(
        "rocksdb",
        description="Where the deal table lives: `rocksdb` (on disk under the data directory, memory bounded by "
        "PR_SCORING_ROCKSDB_MEMORY_MB, a restart recovers only the changelog written since) or `memory` "
        "(every deal in RAM, a restart replays the whole changelog).",
    )
    rocksdb_memory_mb: int = Field(
        256,
        ge=16,
        le=65536,
        description="RocksDB's block caches and write buffers (MB), shared out over the deal-events partitions; "
        "index and filter blocks come on top.",
    )
    standby_replicas: int = Field(
        0,
        ge=0,
        le=3,
        description="Standby copies of each deal-table partition kept warm on other workers, so a takeover "
        "needs little recovery; each one makes every worker read other partitions' changelogs too.",
    )
    log_level: str = Field("info", description="Worker log level.")
    common: CommonSettings = Field(default_factory=CommonSettings)

    def rocksdb_options(self, partitions: int) -> dict[str, int]:
        """faust's RocksDB options for one partition's database, so all of them stay within the budget."""
        share = self.rocksdb_memory_mb * 1024 * 1024 // max(partitions, 1)
        return {
            "block_cache_size": share // 2,
            "write_buffer_size": max(share // 4, 1024 * 1024),  # two of them: the other half of the share
            "max_write_buffer_number": 2,
            "block_cache_compressed_size": 0,
        }

    def prepared_data_dir(self) -> Path:
        """The data directory as an absolute path, created (with its parents) if missing.

        Faust itself creates only the last level, so a fresh clone or container without
        ``.run/`` would fail at start with a bare ``FileNotFoundError``.
        """
        path = Path(self.data_dir).expanduser().resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"PR_SCORING_DATA_DIR={self.data_dir!r}: cannot create {path}: {exc.strerror}") from exc
        return path
