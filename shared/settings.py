"""Typed configuration: every ``NEWSWIRE_*`` environment variable, read here and nowhere else.

Build a ``Settings`` once at a process's entry point and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
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
    max_body_bytes: int = Field(
        default=2_000_000, gt=0, description="Largest request body intake accepts (413 above)."
    )
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
    # Stages.
    languages: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="ISO 639-1 codes the tagger detects, comma-separated (empty: its default set).",
    )
    dedup_window_hours: float = Field(
        default=72.0, gt=0, description="How long an article stays in the dedup index."
    )
    subscriber_retention_hours: float = Field(
        default=168.0, gt=0, description="Age after which subscriber stream entries are trimmed."
    )
    article_ttl_hours: float = Field(
        default=168.0, gt=0, description="How long an article's status and document are kept."
    )

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
