"""The services' Redis client packs commands with hiredis, byte for byte as redis-py does."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from shared.redis_client import HiredisPacking, redis_client, with_hiredis_packing

pytestmark = pytest.mark.unit

COMMANDS = [
    ("EVALSHA", "a" * 40, 1, "newswire:dedup:{near}:4:", 1_764_345_600, "Ünïcode id", b"\x00\xff" * 8, 12.5),
    ("XADD", "articles.unique", "*", "__data__", b"y" * 7000),  # past redis-py's 6,000-byte chunks
    ("HSET", "k", "f", bytearray(b"v"), "g", memoryview(b"w")),
    ("CLIENT SETNAME", "dedup-1"),
    (b"CONFIG GET", "hash-max-*-entries"),
    ("PEXPIRE", "k", -1),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_are_packed_as_redis_py_packs_them(command: tuple[object, ...]) -> None:
    """One command, and a pipeline of all of them: the same bytes as redis-py's own packer."""
    theirs, ours = Connection(), with_hiredis_packing(Connection)()
    assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))
    assert b"".join(ours.pack_commands(COMMANDS)) == b"".join(theirs.pack_commands(COMMANDS))


def test_a_value_redis_cannot_take_is_refused_as_redis_py_refuses_it() -> None:
    """None is no Redis value: DataError, as from redis-py's encoder."""
    with pytest.raises(DataError):
        with_hiredis_packing(Connection)().pack_command("SET", "k", None)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/0", Connection),
        ("rediss://127.0.0.1:6380/0", SSLConnection),
        ("unix:///tmp/redis.sock", UnixDomainSocketConnection),
    ],
)
def test_the_client_keeps_the_connection_kind_of_its_url(url: str, kind: type) -> None:
    """TLS and Unix sockets stay what the URL says; only the packing changes."""
    connection_class = redis_client(url).connection_pool.connection_class
    assert issubclass(connection_class, kind) and issubclass(connection_class, HiredisPacking)
