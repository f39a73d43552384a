"""Writing to subscriber streams exactly once per article version, however often a message is retried.

A marker per (article id, version) and all of the article's stream entries (topic streams and the streams of
every subscription it matched) are written in one Lua script: either the marker is new and every
entry is added, or the marker exists and nothing is. So a retried message adds nothing, even if
the subscriptions changed in between, while a new version of the article (an update) is
delivered once in its turn. An entry for a subscription deleted meanwhile is skipped
(its stream is not re-created). Subscriber streams are trimmed by age (MINID), never by count,
so a slow reader loses nothing younger than the window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis

from services.pusher.routing import StreamEntry
from shared.messages import SUBSCRIPTION_STREAM_PREFIX
from shared.scripts import ScriptBatcher
from shared.subscriptions import SUBSCRIPTIONS_KEY

DELIVERED_KEY_PREFIX = "newswire:delivered:"


def delivery_marker(article_id: str, version: int = 1) -> str:
    """The key that says this version of the article was delivered."""
    return f"{DELIVERED_KEY_PREFIX}{article_id}:{version}"


@dataclass(frozen=True)
class Delivery:
    """The stream entries of one version of an article."""

    article_id: str
    entries: Sequence[StreamEntry]
    version: int = 1


class SubscriberStreams(Protocol):
    async def deliver_many(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Each delivery's entries, in order, unless that version of the article was delivered before;
        per delivery, True when added now."""
        ...


class InMemorySubscriberStreams:
    def __init__(self) -> None:
        self.streams: dict[str, list[dict[str, str]]] = {}
        self.delivered: set[str] = set()

    async def deliver_many(self, deliveries: Sequence[Delivery]) -> list[bool]:
        return [self._deliver(delivery) for delivery in deliveries]

    def _deliver(self, delivery: Delivery) -> bool:
        marker = delivery_marker(delivery.article_id, delivery.version)
        if marker in self.delivered or not delivery.entries:
            return False
        self.delivered.add(marker)
        for entry in delivery.entries:
            self.streams.setdefault(entry.stream, []).append(dict(entry.fields))
        return True


# KEYS[1] the marker, KEYS[2] the subscriptions hash, KEYS[3..] streams; ARGV[1] marker ttl s,
# ARGV[2] min id kept, ARGV[3] fields per entry (n), then per stream: the subscription that must
# still exist ('' for a topic stream) and n field/value pairs.
_DELIVER_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local n = tonumber(ARGV[3])
local at = 4
for i = 3, #KEYS do
  local guard = ARGV[at]
  at = at + 1
  if guard == '' or redis.call('HEXISTS', KEYS[2], guard) == 1 then
    local args = {KEYS[i], 'MINID', ARGV[2], '*'}
    for j = 0, 2 * n - 1 do args[#args + 1] = ARGV[at + j] end
    redis.call('XADD', unpack(args))
  end
  at = at + 2 * n
end
return 1
"""


def _guard(stream: str) -> str:
    """The subscription a stream belongs to, or '' for a topic stream."""
    return (
        stream.removeprefix(SUBSCRIPTION_STREAM_PREFIX)
        if stream.startswith(SUBSCRIPTION_STREAM_PREFIX)
        else ""
    )


class RedisSubscriberStreams:
    def __init__(self, client: aioredis.Redis, retention_seconds: float, marker_seconds: float) -> None:
        self._retention_ms = int(retention_seconds * 1000)
        self._marker_seconds = int(marker_seconds)
        self._client = client
        self._deliver = ScriptBatcher(client, _DELIVER_SCRIPT)

    async def deliver_many(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """One script call per delivery, all in one pipelined round trip."""
        min_id = f"{int(time.time() * 1000) - self._retention_ms}-0"
        todo = [delivery for delivery in deliveries if delivery.entries]
        calls = [self._call(delivery, min_id) for delivery in todo]
        replies = iter(await self._deliver.many(calls, raise_on_error=True))
        return [bool(next(replies)) if delivery.entries else False for delivery in deliveries]

    def _call(self, delivery: Delivery, min_id: str) -> tuple[list[str], list[str | int]]:
        """KEYS and ARGV of the delivery script (see its comment)."""
        entries = delivery.entries
        width = len(entries[0].fields)
        if any(len(entry.fields) != width for entry in entries):
            raise ValueError("every entry of one delivery must have the same fields")
        values: list[str] = []
        for entry in entries:
            values.append(_guard(entry.stream))
            values.extend(item for field in entry.fields.items() for item in field)
        marker = delivery_marker(delivery.article_id, delivery.version)
        keys = [marker, SUBSCRIPTIONS_KEY, *(entry.stream for entry in entries)]
        return keys, [self._marker_seconds, min_id, width, *values]
