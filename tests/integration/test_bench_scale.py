"""The scale benchmark's pre-loads, kept and put back, with a real redis-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from bench.scale import restarted, saved
from shared.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.integration


def test_a_server_restarted_on_its_saved_folder_holds_the_database_as_it_was(tmp_path: Path) -> None:
    """Keys, values, encodings and times to live come back from the kept AOF; what was written
    after it was kept is gone, every time it is put back."""
    with EmbeddedRedis(tmp_path / "data") as server:
        with redis.Redis.from_url(server.url) as client:
            client.hset("h", mapping={"a": "1", "b": b"\x00\xff"})
            client.hset("h2", "x", "y")
            client.expire("h2", 3600)
            client.set("s", "v")
        kept = saved(server, tmp_path / "kept")
        for _ in range(2):
            restarted(server, kept)
            with redis.Redis.from_url(server.url) as client:
                assert sorted(client.keys()) == [b"h", b"h2", b"s"]
                assert client.hgetall("h") == {b"a": b"1", b"b": b"\x00\xff"}
                assert client.object("encoding", "h") in (b"ziplist", b"listpack")  # still compact
                assert 3500 < client.ttl("h2") <= 3600 and client.ttl("h") == -1
                assert client.get("s") == b"v"
                client.hset("h", "a", "changed")
                client.set("later", "1")
                client.delete("s")
