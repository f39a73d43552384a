"""The services' Redis client: redis-py's asyncio client, its commands packed by hiredis.

redis-py's synchronous client packs commands with hiredis when hiredis is installed; its asyncio
client always packs them in Python. For dedup's script calls and stream writes that was 12.3 us
per command against 4.1 with hiredis, for the same bytes (docs/scaling.md): ~30 us of a dedup
article's ~1 ms. Replies are parsed by hiredis either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import DataError


def pack(args: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol, as redis-py's packers make it."""
    name = args[0]
    # A command name given with its subcommand ("CLIENT SETNAME") is two arguments.
    if isinstance(name, str):
        args = (*name.encode().split(), *args[1:])
    elif b" " in name:
        args = (*name.split(), *args[1:])
    try:
        values = tuple(bytes(arg) if isinstance(arg, bytearray | memoryview) else arg for arg in args)
        # hiredis's stub types the argument as a tuple of one value; it takes any number.
        return hiredis.pack_command(values)  # type: ignore[arg-type]
    except TypeError as error:  # what redis-py's encoder raises for a value it cannot send
        raise DataError(str(error)) from error


class HiredisPacking(AbstractConnection):
    """Packs commands with hiredis; put first in the bases of one of redis-py's asyncio
    connection classes (TCP, TLS, Unix socket)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        return [pack(args)]

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        return [pack(tuple(command)) for command in commands]


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def with_hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` packing its commands with hiredis."""
    if issubclass(connection_class, HiredisPacking):
        return connection_class
    if connection_class not in _PACKED:
        name = f"HiredisPacked{connection_class.__name__}"
        _PACKED[connection_class] = type(name, (HiredisPacking, connection_class), {})
    return _PACKED[connection_class]


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """A client of ``url`` (redis://, rediss:// or unix://, as redis-py reads it) whose
    connections pack commands with hiredis. ``options`` go to ``Redis.from_url``."""
    client = aioredis.Redis.from_url(url, **options)
    pool = client.connection_pool
    pool.connection_class = with_hiredis_packing(pool.connection_class)
    return client
