"""The scale benchmark's pre-loads, kept and restored, against a real redis-server."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis

from bench.scale import restore, snapshot

pytestmark = pytest.mark.integration


async def test_a_restored_snapshot_is_the_database_as_it_was(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """Keys, values, encodings and times to live come back; what was written since is gone."""
    await redis_client.hset("h", mapping={"a": "1", "b": b"\x00\xff"})
    await redis_client.hset("h2", "x", "y")
    await redis_client.expire("h2", 3600)
    await redis_client.set("s", "v")
    client = redis.Redis.from_url(redis_url)
    try:
        taken = snapshot(client)
        client.hset("h", "a", "changed")
        client.set("later", "1")
        client.delete("s")
        restore(client, taken)
        assert sorted(client.keys()) == [b"h", b"h2", b"s"]
        assert client.hgetall("h") == {b"a": b"1", b"b": b"\x00\xff"}
        assert client.object("encoding", "h") in (b"ziplist", b"listpack")  # still compact
        assert 3500 < client.ttl("h2") <= 3600 and client.ttl("h") == -1
        assert client.get("s") == b"v"
    finally:
        client.close()
