"""Where each article stands: one record per article in Redis, written by every stage.

Stages run concurrently, so a slow stage's write may land after a faster later stage's.
Each status therefore has a rank, and a write only moves the record forward: the timestamp
of every stage is always kept, the status and document only when the rank is not lower.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

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

    async def get(self, article_id: str) -> ArticleStatus | None: ...


def _flatten(update: StatusUpdate) -> dict[str, str]:
    values = dict(update.fields)
    if update.document is not None:
        values["document"] = json.dumps(update.document, ensure_ascii=False)
    return values


def _status_from(article_id: str, raw: dict[str, str]) -> ArticleStatus:
    history = {key[3:]: float(value) for key, value in raw.items() if key.startswith("at:")}
    fields = {
        key: value
        for key, value in raw.items()
        if not key.startswith("at:") and key not in {"rank", "status", "document"}
    }
    document = json.loads(raw["document"]) if "document" in raw else None
    return ArticleStatus(article_id, raw.get("status", "unknown"), history, fields, document)


class InMemoryStatusStore:
    """The same forward-only semantics in a dict: for unit tests and ``newswire process``."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, str]] = {}

    async def record(self, update: StatusUpdate) -> None:
        raw = self.records.setdefault(update.article_id, {})
        raw[f"at:{update.status}"] = repr(time.time())
        if update.rank >= int(raw.get("rank", "0")):
            raw.update(rank=str(update.rank), status=update.status, **_flatten(update))

    async def get(self, article_id: str) -> ArticleStatus | None:
        raw = self.records.get(article_id)
        return _status_from(article_id, raw) if raw else None


# KEYS[1] the article; ARGV: rank, ttl ms, status, now, then field/value pairs.
_RECORD_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
redis.call('HSET', KEYS[1], 'at:' .. ARGV[3], ARGV[4])
if tonumber(ARGV[1]) >= current then
  redis.call('HSET', KEYS[1], 'rank', ARGV[1], 'status', ARGV[3])
  for i = 5, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStatusStore:
    """Article records as Redis hashes that expire after ``ttl_seconds``."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: float) -> None:
        self._client = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._record = client.register_script(_RECORD_SCRIPT)

    async def record(self, update: StatusUpdate) -> None:
        pairs = [item for pair in _flatten(update).items() for item in pair]
        args: list[str | int] = [update.rank, self._ttl_ms, update.status, repr(time.time()), *pairs]
        await self._record(keys=[article_key(update.article_id)], args=args)

    async def get(self, article_id: str) -> ArticleStatus | None:
        raw = await self._client.hgetall(article_key(article_id))
        if not raw:
            return None
        decoded = {_text(key): _text(value) for key, value in raw.items()}
        return _status_from(article_id, decoded)
