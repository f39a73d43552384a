"""Lua scripts sent as EVALSHA, many to a round trip.

redis-py's pipelined ``Script`` asks ``SCRIPT EXISTS`` before every pipeline that holds one: a
second round trip per batch. Here ``EVALSHA`` goes directly, and only when Redis answers
``NOSCRIPT`` (its script cache was emptied, by a restart say) is the script loaded and those calls
sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

Call = tuple[Sequence[str], Sequence[str | int | bytes]]  # keys, args


class ScriptBatcher:
    """Runs one Lua script: ``many`` sends a list of calls in one round trip; a plain call is
    pipelined with the other calls made in the same loop tick."""

    def __init__(self, client: aioredis.Redis, script: str) -> None:
        self._client = client
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)
        self._queue: list[tuple[Sequence[Any], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def _command(self, keys: Sequence[str], args: Sequence[str | int | bytes]) -> list[Any]:
        return [self._sha, len(keys), *keys, *args]

    async def many(self, calls: Sequence[Call], *, raise_on_error: bool = False) -> list[Any]:
        """The replies of ``calls``, run in order in one round trip. An error reply is returned as
        its exception, or, with ``raise_on_error``, the first one is raised once all have run. A
        failed connection raises."""
        replies = await self._run([self._command(keys, args) for keys, args in calls])
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
        self._queue.append((self._command(keys, args), future))
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
