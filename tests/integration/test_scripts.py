"""Scripts sent as EVALSHA, many to a round trip, against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from shared.scripts import ScriptBatcher

pytestmark = pytest.mark.integration

# Appends its argument to a list and answers the list's length; 'fail' is an error reply.
APPEND = """
if ARGV[1] == 'fail' then return redis.error_reply('asked to fail') end
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""


async def test_calls_run_once_each_in_order_even_after_the_script_cache_was_emptied(
    redis_client: aioredis.Redis,
) -> None:
    """``many`` runs its calls in order; an error reply comes back as that call's exception; after
    SCRIPT FLUSH (as after a Redis restart) the script is loaded again and no call runs twice."""
    script = ScriptBatcher(redis_client, APPEND)
    replies = await script.many([(["l"], ["a"]), (["l"], ["fail"]), (["l"], ["b"])])
    assert replies[0] == 1 and replies[2] == 2
    assert isinstance(replies[1], ResponseError)
    await redis_client.script_flush()
    assert await script.many([(["l"], ["c"]), (["l"], ["d"])]) == [3, 4]
    assert await redis_client.lrange("l", 0, -1) == [b"a", b"b", b"c", b"d"]


async def test_concurrent_calls_run_in_the_order_made_with_evalsha_alone(
    redis_client: aioredis.Redis,
) -> None:
    """Plain calls from concurrent tasks run in the order they were made, each one EVALSHA, with
    no SCRIPT EXISTS asked (redis-py's pipelined scripts ask it before every pipeline)."""
    script = ScriptBatcher(redis_client, APPEND)
    await redis_client.config_resetstat()
    replies = await asyncio.gather(*(script(["t"], [str(n)]) for n in range(5)))
    assert replies == [1, 2, 3, 4, 5]
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 5
    assert "cmdstat_script|exists" not in stats and "cmdstat_script" not in stats


async def test_raise_on_error_raises_the_first_error_once_every_call_ran(
    redis_client: aioredis.Redis,
) -> None:
    """With ``raise_on_error`` an error reply is raised, but only after the whole batch ran."""
    script = ScriptBatcher(redis_client, APPEND)
    with pytest.raises(ResponseError, match="asked to fail"):
        await script.many([(["r"], ["a"]), (["r"], ["fail"]), (["r"], ["b"])], raise_on_error=True)
    assert await redis_client.lrange("r", 0, -1) == [b"a", b"b"]
