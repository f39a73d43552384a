"""Fixtures shared by every test layer.

Integration tests get a real redis-server that this session starts on a free loopback port with
its own data folder (AOF on), so a test can also kill and restart it. When NEWSWIRE_REDIS_URL is
set, that Redis is used instead and its database is flushed between tests: point it at a scratch
database only.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import structlog

from shared.embedded_redis import EmbeddedRedis

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def structlog_defaults() -> Iterator[None]:
    """Each test ends with structlog as it found it: a command run in-process (``main([...])``)
    configures logging on pytest's captured stderr, which is closed after that test."""
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis | None]:
    """The session's own redis-server, or None when NEWSWIRE_REDIS_URL points at another."""
    if os.environ.get("NEWSWIRE_REDIS_URL"):
        yield None
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    with server:
        yield server


@pytest.fixture(scope="session")
def redis_url(embedded_redis: EmbeddedRedis | None) -> str:
    """URL of the real Redis the integration tests use."""
    if embedded_redis is None:
        return os.environ["NEWSWIRE_REDIS_URL"]
    return embedded_redis.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client on a flushed database: every test starts from an empty Redis."""
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
