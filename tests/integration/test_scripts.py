"""Scripts sent as EVALSHA, many to a round trip, against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from shared.scripts import ScriptBatcher, ScriptChannel

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


async def test_a_channel_runs_rounds_in_the_order_sent_without_waiting_for_replies(
    redis_client: aioredis.Redis,
) -> None:
    """Rounds go out one after the other without waiting for the replies of the ones before (Redis
    is paused: none can come), run in the order sent, and each gets its own replies; an error
    reply is that call's exception."""
    channel = ScriptChannel(redis_client, APPEND)
    await channel.load()
    await (await channel.send([(["o"], ["warm"])]))  # its connection is open before the pause
    await redis_client.execute_command("CLIENT", "PAUSE", "200")
    first = await channel.send([(["o"], ["a"]), (["o"], ["fail"])])
    second = await channel.send([(["o"], ["b"])])
    assert not first.done() and not second.done()  # both sent, no reply yet
    one, two = await asyncio.gather(first, second)
    assert one[0] == 2 and isinstance(one[1], ResponseError) and two == [3]
    assert await redis_client.lrange("o", 0, -1) == [b"warm", b"a", b"b"]


async def test_a_channel_answers_noscript_and_runs_after_load(redis_client: aioredis.Redis) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) a round's calls come back as NOSCRIPT, and none
    of them ran; once loaded again they run."""
    channel = ScriptChannel(redis_client, APPEND)
    await redis_client.script_flush()
    (reply,) = await (await channel.send([(["n"], ["a"])]))
    assert isinstance(reply, NoScriptError) and await redis_client.llen("n") == 0
    await channel.load()
    assert await (await channel.send([(["n"], ["a"])])) == [1]


async def test_a_round_whose_caller_gave_up_leaves_the_next_round_its_own_replies(
    redis_client: aioredis.Redis,
) -> None:
    """A caller that stops waiting (cancelled) does not leave its replies to the next round: they
    are read in their turn all the same, and the next round gets its own."""
    channel = ScriptChannel(redis_client, APPEND)
    await channel.load()
    await (await channel.send([(["g"], ["warm"])]))
    await redis_client.execute_command("CLIENT", "PAUSE", "200")
    abandoned = await channel.send([(["g"], ["a"])])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(abandoned), 0.05)
    abandoned.cancel()
    assert await (await channel.send([(["g"], ["b"])])) == [3]
    assert await redis_client.lrange("g", 0, -1) == [b"warm", b"a", b"b"]


async def test_a_channel_whose_connection_failed_fails_the_rounds_waiting_and_connects_anew(
    redis_client: aioredis.Redis,
) -> None:
    """The rounds waiting for replies on a connection that failed fail (their outcome is unknown:
    the caller retries them); the next round connects anew."""
    channel = ScriptChannel(redis_client, APPEND)
    await channel.load()
    await (await channel.send([(["k"], ["warm"])]))
    await (await channel.send([(["k"], ["x"])]))
    await redis_client.execute_command("CLIENT", "PAUSE", "200")
    waiting = await channel.send([(["k"], ["y"])])
    await redis_client.execute_command("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal")
    with pytest.raises(RedisConnectionError):
        await waiting
    # y may have run or not before the kill (its outcome is what the caller cannot know).
    (length,) = await (await channel.send([(["k"], ["z"])]))
    ran = [b"warm", b"x", b"y"][: length - 1]
    assert await redis_client.lrange("k", 0, -1) == [*ran, b"z"]
