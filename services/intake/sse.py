"""Server-Sent Events of a subscription's stream: live, and resumable without gaps.

Each event's ``id`` is the stream entry id. A client that reconnects with ``Last-Event-ID``
(browsers' EventSource do so by themselves) gets every entry after that one, then the live
feed; one that connects without it starts at the newest entry at that moment. Resuming works
as long as the entry is younger than the subscriber stream retention.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis
from sse_starlette import EventSourceResponse, ServerSentEvent

ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
BLOCK_MS = 5_000
READ_COUNT = 100
PING_S = 15
RECONNECT_MS = 2_000


class EventSource(Protocol):
    async def newest_id(self, stream: str) -> str:
        """The id of the newest entry, or ``0-0`` for an empty stream."""
        ...

    async def after(self, stream: str, entry_id: str) -> list[tuple[str, dict[str, str]]]:
        """Entries after ``entry_id``, waiting a while for one when there are none yet."""
        ...


class RedisEventSource:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def newest_id(self, stream: str) -> str:
        newest: Any = await self._client.xrevrange(stream, count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def after(self, stream: str, entry_id: str) -> list[tuple[str, dict[str, str]]]:
        answer: Any = await self._client.xread({stream: entry_id}, count=READ_COUNT, block=BLOCK_MS)
        return [
            (raw_id.decode(), {k.decode(): v.decode() for k, v in fields.items()})
            for _, entries in answer or ()
            for raw_id, fields in entries
        ]


async def _events(source: EventSource, stream: str, cursor: str) -> AsyncIterator[ServerSentEvent]:
    if cursor == "$":
        # A concrete id, not '$': entries written between two reads must not fall in a gap.
        cursor = await source.newest_id(stream)
    yield ServerSentEvent(comment="newswire subscription stream", retry=RECONNECT_MS)
    while True:
        for entry_id, fields in await source.after(stream, cursor):
            cursor = entry_id
            yield ServerSentEvent(data=fields.get("article", "null"), event=fields.get("event"), id=entry_id)


def event_response(source: EventSource, stream: str, last_event_id: str | None) -> EventSourceResponse:
    """The streaming answer; ``last_event_id`` must have passed ``ENTRY_ID`` (None: live only)."""
    return EventSourceResponse(
        _events(source, stream, last_event_id or "$"),
        ping=PING_S,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
