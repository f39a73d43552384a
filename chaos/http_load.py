"""A lean HTTP/1.1 load generator: asyncio streams, keep-alive connections, pre-built requests.

httpx from a thread pool costs the harness about a millisecond of CPU per request, so a burst of
1,000 requests/s on a 2-core machine would measure the client, not intake. Here a request is one
``write`` of bytes built once and one parse of the status line, headers and a length-delimited
body: tens of microseconds. Only what intake answers is understood (Content-Length bodies,
keep-alive, ``Connection: close``); it is a test tool, not a general client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """One request's outcome: the HTTP status (0: no answer) and the JSON body when there is one."""

    status: int
    body: dict[str, object] | None
    seconds: float


def post_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive POST of a JSON body."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length = 0
    keep_alive = True
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            keep_alive = False
    body = await reader.readexactly(length) if length else b""
    return status, body, keep_alive


class Connection:
    """One keep-alive connection that reconnects after the server closed it or failed."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self._host, self._port, self._timeout_s = host, port, timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes) -> Answer:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                if self._streams is None:
                    self._streams = await asyncio.open_connection(self._host, self._port)
                reader, writer = self._streams
                writer.write(request)
                status, raw, keep_alive = await _read_answer(reader)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            await self.close()
            return Answer(0, None, time.perf_counter() - started)
        if not keep_alive:
            await self.close()
        body = None
        if raw[:1] == b"{":
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        return Answer(status, body, time.perf_counter() - started)

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def offer(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    seconds: float,
    connections: int = 64,
    timeout_s: float = 30.0,
    on_answer: Callable[[int, Answer], None] | None = None,
) -> list[Answer]:
    """Send ``requests`` at an even rate over ``seconds`` (0: as fast as the connections allow).

    Request i is due at ``i * seconds / len(requests)``; it waits for a free connection when all
    ``connections`` are busy, so the offered rate is the lower of the schedule and what the
    server answers through that many connections. ``on_answer(i, answer)`` sees each answer.
    """
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(host, port, timeout_s))
    answers: list[Answer | None] = [None] * len(requests)
    interval = seconds / max(len(requests), 1)
    started = time.monotonic()

    async def one(index: int, connection: Connection) -> None:
        try:
            answer = await connection.send(requests[index])
        finally:
            pool.put_nowait(connection)
        answers[index] = answer
        if on_answer is not None:
            on_answer(index, answer)

    tasks = []
    for index in range(len(requests)):
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await pool.get()
        tasks.append(asyncio.create_task(one(index, connection)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        await pool.get_nowait().close()
    return [answer for answer in answers if answer is not None]
