"""Where each article stands: one record per article in Redis, written by every stage.

Stages run concurrently, so a slow stage's write may land after a faster later stage's.
Each status therefore has a rank, and a write only moves the record forward: the timestamp
of every stage is always kept, the status and its facts only when the rank is not lower. The
ninjs document has a rank of its own (``document_rank``): a stage that learns nothing the document
shows writes none (dedup: its story id is one of its facts, and ``get`` adds it to the document),
so the last document written is kept, even when it lands after a later stage's facts.

An article id can come again as a new version (same guid, changed content). A write that names
its version compares (version, rank): a newer version moves the record forward whatever the old
version reached, and starts its facts afresh (the old version's fields go, the history stays);
an older version's write only adds to the history. A write without a version (``None``) is
about whatever version the record holds and compares ranks only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

from shared.ninjs import document_json, with_story
from shared.scripts import Call, ScriptBatcher

ARTICLE_KEY_PREFIX = "newswire:article:"

# Forward order of an article's life; a dead letter sits just after the stage that gave up.
STATUS_RANKS = {
    "received": 10,
    "tagged": 20,
    "unique": 30,
    "duplicate": 30,
    "update": 30,
    "delivered": 40,
}
DEAD_LETTER_RANKS = {"tagger": 15, "dedup": 25, "pusher": 35}


def article_key(article_id: str) -> str:
    return f"{ARTICLE_KEY_PREFIX}{article_id}"


@dataclass(frozen=True)
class StatusUpdate:
    """What a stage learned about an article; ``fields`` are extra facts (verdict, story id, error)."""

    article_id: str
    status: str
    rank: int
    document: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    version: int | None = None

    def outdated(self, version: int) -> bool:
        """Whether this update is about an older version than the record's ``version``."""
        return self.version is not None and self.version < version

    def newer(self, version: int) -> bool:
        """Whether this update starts a newer version than the record's ``version``."""
        return self.version is not None and self.version > version

    @classmethod
    def reached(cls, article_id: str, status: str, **kwargs: Any) -> StatusUpdate:
        return cls(article_id, status, STATUS_RANKS[status], **kwargs)

    @classmethod
    def dead_lettered(cls, article_id: str, stage: str, error: str) -> StatusUpdate:
        rank = DEAD_LETTER_RANKS.get(stage, 0)
        return cls(article_id, "dead_lettered", rank, fields={"error": error, "failed_stage": stage})


@dataclass(frozen=True)
class ArticleStatus:
    article_id: str
    status: str
    history: dict[str, float]
    fields: dict[str, str]
    document: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.article_id,
            "status": self.status,
            **self.fields,
            "history": dict(sorted(self.history.items(), key=lambda item: item[1])),
            "article": self.document,
        }


class StatusStore(Protocol):
    async def record(self, update: StatusUpdate) -> None: ...

    async def record_many(self, updates: Sequence[StatusUpdate]) -> None:
        """Record each update, in order (one round trip where the store allows)."""

    async def get(self, article_id: str) -> ArticleStatus | None: ...


def _facts(update: StatusUpdate) -> dict[str, str]:
    values = dict(update.fields)
    if update.version is not None:
        values["version"] = str(update.version)
    return values


def _document_text(update: StatusUpdate) -> str:
    return "" if update.document is None else document_json(update.document)


_RECORD_KEYS = {"rank", "status", "document", "document_rank"}


def _status_from(article_id: str, raw: dict[str, str]) -> ArticleStatus:
    history = {key[3:]: float(value) for key, value in raw.items() if key.startswith("at:")}
    fields = {
        key: value for key, value in raw.items() if not key.startswith("at:") and key not in _RECORD_KEYS
    }
    document = json.loads(raw["document"]) if "document" in raw else None
    if document is not None and "story_id" in fields:
        document = with_story(document, fields["story_id"])
    return ArticleStatus(article_id, raw.get("status", "unknown"), history, fields, document)


class InMemoryStatusStore:
    """The same forward-only semantics in a dict: for unit tests and ``newswire process``."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, str]] = {}

    async def record(self, update: StatusUpdate) -> None:
        raw = self.records.setdefault(update.article_id, {})
        raw[f"at:{update.status}"] = repr(time.time())
        version = int(raw.get("version", "1"))
        if update.outdated(version):
            return
        if update.newer(version):
            for key in [key for key in raw if not key.startswith("at:")]:
                del raw[key]
        if update.rank >= int(raw.get("rank", "0")):
            raw.update(rank=str(update.rank), status=update.status, **_facts(update))
        if update.document is not None and update.rank >= int(raw.get("document_rank", "0")):
            raw.update(document=_document_text(update), document_rank=str(update.rank))

    async def record_many(self, updates: Sequence[StatusUpdate]) -> None:
        for update in updates:
            await self.record(update)

    async def get(self, article_id: str) -> ArticleStatus | None:
        raw = self.records.get(article_id)
        return _status_from(article_id, raw) if raw else None


# KEYS[1] the article; ARGV: rank, ttl ms, status, now, version (0: none), the document ('': none),
# then field/value pairs.
RECORD_SCRIPT = """
local held = redis.call('HMGET', KEYS[1], 'rank', 'version', 'document_rank')
local rank = tonumber(ARGV[1])
local current = tonumber(held[1] or '0')
local current_version = tonumber(held[2] or '1')
local document_rank = tonumber(held[3] or '0')
local version = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'at:' .. ARGV[3], ARGV[4])
if version == 0 or version >= current_version then
  if version > current_version then
    -- A new version starts its facts afresh; the history of timestamps stays.
    for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do
      if string.sub(key, 1, 3) ~= 'at:' then redis.call('HDEL', KEYS[1], key) end
    end
    current, document_rank = 0, 0
  end
  if rank >= current then
    local values = {'rank', ARGV[1], 'status', ARGV[3]}
    for i = 7, #ARGV do values[#values + 1] = ARGV[i] end
    redis.call('HSET', KEYS[1], unpack(values))
  end
  if ARGV[6] ~= '' and rank >= document_rank then
    redis.call('HSET', KEYS[1], 'document', ARGV[6], 'document_rank', ARGV[1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


def record_args(update: StatusUpdate, ttl_ms: int) -> list[str | int]:
    """ARGV of ``RECORD_SCRIPT`` for this update (its KEYS[1] is ``article_key(update.article_id)``)."""
    pairs = [item for pair in _facts(update).items() for item in pair]
    return [
        update.rank,
        ttl_ms,
        update.status,
        repr(time.time()),
        update.version or 0,
        _document_text(update),
        *pairs,
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStatusStore:
    """Article records as Redis hashes that expire after ``ttl_seconds``."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: float) -> None:
        self._client = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._record = ScriptBatcher(client, RECORD_SCRIPT)

    def _call(self, update: StatusUpdate) -> Call:
        return [article_key(update.article_id)], record_args(update, self._ttl_ms)

    async def record(self, update: StatusUpdate) -> None:
        await self._record(*self._call(update))

    async def record_many(self, updates: Sequence[StatusUpdate]) -> None:
        """The updates in one round trip; raises the first error any of them met."""
        await self._record.many([self._call(update) for update in updates], raise_on_error=True)

    async def get(self, article_id: str) -> ArticleStatus | None:
        raw = await self._client.hgetall(article_key(article_id))
        if not raw:
            return None
        decoded = {_text(key): _text(value) for key, value in raw.items()}
        return _status_from(article_id, decoded)
