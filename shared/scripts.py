"""Lua scripts sent as EVALSHA, many to a round trip.

redis-py's pipelined ``Script`` asks ``SCRIPT EXISTS`` before every pipeline that holds one: a
second round trip per batch. Here ``EVALSHA`` goes directly, and only when Redis answers
``NOSCRIPT`` (its script cache was emptied, by a restart say) is the script loaded and those calls
sent again (``ScriptBatcher``), or the caller is told so (``ScriptChannel``).

``ScriptChannel`` sends rounds of calls on a connection of its own, each without waiting for the
replies of the ones before: Redis runs one connection's commands in the order they came, so the
rounds run in the order they were sent, while two pipelines on two connections of a pool may
interleave. ``InOrder`` gives concurrent callers turns in the order they asked for them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Call = tuple[Sequence[str], Sequence[str | int | bytes]]  # keys, args


def script_sha(script: str) -> str:
    """The name Redis gives a script: its SHA-1."""
    return hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)


def evalsha_args(sha: str, call: Call) -> list[Any]:
    """EVALSHA's arguments for one call of the script ``sha``."""
    keys, args = call
    return [sha, len(keys), *keys, *args]


class ScriptBatcher:
    """Runs one Lua script: ``many`` sends a list of calls in one round trip; a plain call is
    pipelined with the other calls made in the same loop tick."""

    def __init__(self, client: aioredis.Redis, script: str) -> None:
        self._client = client
        self._script = script
        self._sha = script_sha(script)
        self._queue: list[tuple[Sequence[Any], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def many(self, calls: Sequence[Call], *, raise_on_error: bool = False) -> list[Any]:
        """The replies of ``calls``, run in order in one round trip. An error reply is returned as
        its exception, or, with ``raise_on_error``, the first one is raised once all have run. A
        failed connection raises."""
        replies = await self._run([evalsha_args(self._sha, call) for call in calls])
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int | bytes]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((evalsha_args(self._sha, (keys, args)), future))
        return await future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Sequence[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._run([command for command, _ in batch])
        except BaseException as error:  # the connection failed: every caller learns it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller gave up (its time limit)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run(self, commands: list[Sequence[Any]]) -> list[Any]:
        results = await self._execute(commands)
        missing = [n for n, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            # Nothing ran for these: the script is loaded and they are sent again, in order.
            await self._client.script_load(self._script)
            for n, result in zip(missing, await self._execute([commands[n] for n in missing]), strict=True):
                results[n] = result
        return results

    async def _execute(self, commands: list[Sequence[Any]]) -> list[Any]:
        if not commands:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command("EVALSHA", *command)
            return list(await pipe.execute(raise_on_error=False))


class InOrder:
    """Turns for concurrent calls: each call's turn comes when the calls that took one before it
    have ended theirs (ended, even if cancelled, so one stopped call holds up no other)."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def take(self) -> Turn:
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        turn = Turn(self._last, ended)
        self._last = ended
        return turn


@dataclass(slots=True)
class Turn:
    after: asyncio.Future[None] | None  # the turn before this one has ended
    ended: asyncio.Future[None]

    async def wait(self) -> None:
        """Until the turns before this one have ended (at once, from the second time on)."""
        if self.after is not None and not self.after.done():
            # shield: a cancelled wait must not cancel the turn before it, which is another call's
            await asyncio.shield(self.after)

    async def hand_over(self) -> None:
        """After ``end``: lets a call waiting for the next turn run up to its first real wait (its
        round trip sent) before this call goes on. Ending the turn completes ``ended``; its
        callback completes the shield a waiting call awaits, whose callback wakes that call: two
        turns of the event loop (tests/unit/test_in_order.py checks it)."""
        for _ in range(2):
            await asyncio.sleep(0)

    def end(self) -> None:
        """This turn is over; the next begins when every earlier one is over too."""
        if self.ended.done():
            return
        if self.after is None or self.after.done():
            self.ended.set_result(None)
        else:
            self.after.add_done_callback(lambda _: self.end())


class ScriptChannel:
    """Rounds of one script's calls on one connection of the channel's own, run by Redis in the
    order they were sent. ``send`` returns once the round is written, with an awaitable of its
    replies: the next round can go out while Redis still runs this one. Replies are read in the
    order the rounds were sent, by a task per round, whether or not its caller still waits. An
    error reply is returned as its exception (NOSCRIPT too: nothing of that call ran; ``load`` the
    script and send it again). A connection that fails (or whose reader was cancelled, at
    shutdown) is dropped: the rounds still waiting for replies on it fail, and the next round
    connects anew.
    """

    def __init__(self, client: aioredis.Redis, script: str) -> None:
        self._client = client
        self._script = script
        self._sha = script_sha(script)
        self._connection: AbstractConnection | None = None
        self._sending = asyncio.Lock()
        self._reads = InOrder()
        self._reading: set[asyncio.Future[list[Any]]] = set()

    async def load(self) -> None:
        """Loads the script into Redis (after a NOSCRIPT reply)."""
        await self._client.script_load(self._script)

    async def send(self, calls: Sequence[Call]) -> Awaitable[list[Any]]:
        """Writes the round (after the rounds sent before it); its replies are awaited apart."""
        async with self._sending:
            connection = self._connection
            if connection is None:
                connection = await self._client.connection_pool.get_connection()
                self._connection = connection
            turn = self._reads.take()
            try:
                commands = [("EVALSHA", *evalsha_args(self._sha, call)) for call in calls]
                await connection.send_packed_command(connection.pack_commands(commands))
            except BaseException:
                turn.end()
                await self._drop(connection)
                raise
        # Read by a task of its own, shielded: were the caller to give up waiting (cancelled), the
        # replies are still read in their turn, and the rounds after this one get theirs.
        reading = asyncio.ensure_future(self._replies(connection, turn, len(calls)))
        self._reading.add(reading)
        reading.add_done_callback(self._read_done)
        return asyncio.shield(reading)

    def _read_done(self, reading: asyncio.Future[list[Any]]) -> None:
        self._reading.discard(reading)
        if not reading.cancelled():
            reading.exception()  # retrieved: a caller that gave up is not told of it at exit

    async def _replies(self, connection: AbstractConnection, turn: Turn, count: int) -> list[Any]:
        try:
            await turn.wait()
            if connection is not self._connection:
                raise RedisConnectionError("the connection of these calls was lost before their replies")
            replies: list[Any] = []
            for _ in range(count):
                try:
                    replies.append(await connection.read_response())
                except ResponseError as error:  # an error reply: that call's outcome
                    replies.append(error)
            return replies
        except BaseException:
            # The rounds after this one can no longer tell their replies on this connection.
            await self._drop(connection)
            raise
        finally:
            turn.end()

    async def _drop(self, connection: AbstractConnection) -> None:
        if self._connection is connection:
            self._connection = None
            await connection.disconnect()
            await self._client.connection_pool.release(connection)
