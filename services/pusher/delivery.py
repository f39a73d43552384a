"""Writing to subscriber streams exactly once per article, however often a message is retried.

A marker per article and the stream entries are written in one Lua script: either the marker
is new and every entry is added, or the marker exists and nothing is. Subscriber streams are
trimmed by age (MINID), never by count, so a slow reader loses nothing younger than the window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis

from services.pusher.routing import StreamEntry

DELIVERED_KEY_PREFIX = "newswire:delivered:"


class SubscriberStreams(Protocol):
    async def deliver_once(self, article_id: str, entries: Sequence[StreamEntry]) -> bool:
        """Add the entries unless this article was delivered before; True when added now."""
        ...


class InMemorySubscriberStreams:
    def __init__(self) -> None:
        self.streams: dict[str, list[dict[str, str]]] = {}
        self.delivered: set[str] = set()

    async def deliver_once(self, article_id: str, entries: Sequence[StreamEntry]) -> bool:
        if article_id in self.delivered:
            return False
        self.delivered.add(article_id)
        for entry in entries:
            self.streams.setdefault(entry.stream, []).append(dict(entry.fields))
        return True


# KEYS[1] the marker, KEYS[2..] streams; ARGV[1] marker ttl s, ARGV[2] min id kept,
# ARGV[3] fields per entry (n), then for each stream n field/value pairs.
_DELIVER_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local n = tonumber(ARGV[3])
local at = 4
for i = 2, #KEYS do
  local args = {KEYS[i], 'MINID', ARGV[2], '*'}
  for j = 0, 2 * n - 1 do args[#args + 1] = ARGV[at + j] end
  at = at + 2 * n
  redis.call('XADD', unpack(args))
end
return 1
"""


class RedisSubscriberStreams:
    def __init__(self, client: aioredis.Redis, retention_seconds: float, marker_seconds: float) -> None:
        self._retention_ms = int(retention_seconds * 1000)
        self._marker_seconds = int(marker_seconds)
        self._deliver = client.register_script(_DELIVER_SCRIPT)

    async def deliver_once(self, article_id: str, entries: Sequence[StreamEntry]) -> bool:
        if not entries:
            return False
        width = len(entries[0].fields)
        if any(len(entry.fields) != width for entry in entries):
            raise ValueError("every entry of one delivery must have the same fields")
        min_id = f"{int(time.time() * 1000) - self._retention_ms}-0"
        pairs = [item for entry in entries for field in entry.fields.items() for item in field]
        keys = [DELIVERED_KEY_PREFIX + article_id, *(entry.stream for entry in entries)]
        added = await self._deliver(keys=keys, args=[self._marker_seconds, min_id, width, *pairs])
        return bool(added)
