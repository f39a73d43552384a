"""Typed configuration: every ``NEWSWIRE_*`` environment variable, read here and nowhere else.

Build a ``Settings`` once at a process's entry point and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogFormat = Literal["auto", "json", "console"]


class Settings(BaseSettings):
    """newswire's settings; the field name in upper case with ``NEWSWIRE_`` is the variable."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", extra="ignore", frozen=True)

    redis_url: str | None = Field(
        default=None,
        description="Redis to use. Unset: `newswire up` starts an embedded redis-server.",
    )
    data_dir: Path = Field(
        default=Path(".newswire"),
        description="Where the embedded Redis keeps its AOF and where `up` keeps run state.",
    )
    http_host: str = Field(default="127.0.0.1", description="Address intake listens on.")
    http_port: int = Field(default=8080, ge=0, le=65535, description="Port intake listens on.")
    log_level: str = Field(default="INFO", description="Lowest level logged.")
    log_format: LogFormat = Field(
        default="auto",
        description="`json` lines, `console`, or `auto` (console on a terminal, else JSON).",
    )
    intake_max_in_flight: int = Field(
        default=64,
        gt=0,
        description="Article submissions intake handles at once; more get 503 problem+json with "
        "Retry-After at once, before the body is read.",
    )
    intake_page_workers: int = Field(
        default=1,
        ge=0,
        description="Processes that read HTML pages off intake's event loop (0: read them on the loop).",
    )
    max_body_bytes: int = Field(
        default=2_000_000, gt=0, description="Largest request body intake accepts (413 above)."
    )
    # Intake: access, idempotency, feeds (issue 3).
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        description="API keys intake accepts, comma-separated (empty: no keys needed). When set, "
        "POST/DELETE and article reads need `Authorization: Bearer <key>` or `X-API-Key`.",
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description="Requests per minute each API key (or client address, without keys) may make; "
        "bursts up to the same number; 0: no limit.",
    )
    redis_timeout_s: float = Field(
        default=2.0, gt=0, description="Time limit of intake's Redis calls; past it intake answers 503."
    )
    feeds: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="RSS/Atom feed URLs intake polls, comma-separated (empty: none)."
    )
    feed_interval_s: float = Field(default=300.0, gt=0, description="How often each feed is polled.")
    feed_max_backoff_s: float = Field(
        default=3600.0, gt=0, description="Longest wait between polls of a failing feed (backoff doubles)."
    )
    feed_fetch_pages: bool = Field(
        default=False, description="Fetch and read the page a feed entry links to, instead of its summary."
    )
    feed_timeout_s: float = Field(default=15.0, gt=0, description="Time limit of one feed or page fetch.")
    # Stage transport.
    read_batch: int = Field(
        default=50, gt=0, description="Entries one XREADGROUP asks for (FastStream max_records)."
    )
    poll_interval_ms: int = Field(
        default=100, gt=0, description="How long one read blocks waiting for new entries."
    )
    claim_idle_ms: int = Field(
        default=30_000,
        gt=0,
        description="A pending entry idle this long is claimed by a live replica and retried.",
    )
    delivery_cap: int = Field(
        default=5, gt=0, description="Deliveries of one entry before it is dead-lettered."
    )
    heartbeat_interval_s: float = Field(
        default=2.0, gt=0, description="How often a service reports its readiness to Redis."
    )
    # Operations.
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65530,
        description="Base port of the consumer services' /metrics (tagger +1, dedup +2, pusher +3; "
        "0: none). Intake serves /metrics on its HTTP port.",
    )
    stats_interval_s: float = Field(
        default=5.0, gt=0, description="How often a consumer service refreshes its stream lag gauges."
    )
    trim_interval_s: float = Field(
        default=60.0, gt=0, description="How often a consumer service trims the stage streams it reads."
    )
    stage_retention_hours: float = Field(
        default=24.0,
        ge=0,
        description="Stage stream entries older than this that every group has acknowledged are trimmed.",
    )
    gc_threshold: int = Field(
        default=50_000,
        gt=0,
        description="Net allocations of tracked objects after which a service process collects "
        "cyclic garbage (CPython's default is 700, which costs a batch-handling stage ~10% of its "
        "CPU: shared/collector.py).",
    )
    shutdown_grace_s: float = Field(
        default=10.0, gt=0, description="How long a stopping service waits for messages in flight."
    )
    # Stages.
    languages: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="ISO 639-1 codes the tagger detects, comma-separated (empty: its default set).",
    )
    dedup_window_hours: float = Field(
        default=72.0, gt=0, description="How long an article stays in the dedup index."
    )
    dedup_readers: int = Field(
        # Six kept the process and Redis ~5% busier than three (docs/scaling.md).
        default=6,
        gt=0,
        description="Read batches one dedup process has in hand at once: one batch's fingerprints "
        "are computed and another's outputs written while the batch read before them is judged in "
        "Redis (judged in read order).",
    )
    subscriber_retention_hours: float = Field(
        default=168.0, gt=0, description="Age after which subscriber stream entries are trimmed."
    )
    article_ttl_hours: float = Field(
        default=168.0, gt=0, description="How long an article's status and document are kept."
    )
    # Webhook delivery (issue 6).
    webhook_allow_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Host names webhooks may reach although they resolve to non-public addresses "
        "(tests, development), comma-separated.",
    )
    webhook_retry_schedule_s: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400, 86400, 86400, 86400),
        description="Upper bounds of the waits before each retry (full jitter: each wait is uniform in "
        "0..bound), comma-separated; after the last, the delivery is dead-lettered.",
    )
    webhook_timeout_s: float = Field(default=15.0, gt=0, description="Time limit of one webhook attempt.")
    webhook_concurrency: int = Field(
        default=1, gt=0, description="Attempts in flight per endpoint (1 keeps published order)."
    )
    webhook_disable_after_s: float = Field(
        default=259_200.0, gt=0, description="An endpoint failing without a success this long is disabled."
    )
    webhook_secret_grace_s: float = Field(
        default=86_400.0, ge=0, description="How long the old secret still signs after a rotation."
    )

    @field_validator("webhook_allow_hosts", "webhook_retry_schedule_s", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("api_keys", "feeds", mode="before")
    @classmethod
    def _split_intake_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(code.strip().lower() for code in value.split(",") if code.strip())
        return value

    def with_redis(self, url: str) -> Settings:
        """A copy of these settings pointing at another Redis (e.g. the embedded one)."""
        return self.model_copy(update={"redis_url": url})

    @property
    def resolved_redis_url(self) -> str:
        """The Redis URL; services need one, so a missing one is a configuration error."""
        if not self.redis_url:
            msg = "NEWSWIRE_REDIS_URL is not set (run the stack with `newswire up` to get one)"
            raise RuntimeError(msg)
        return self.redis_url
