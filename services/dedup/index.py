"""Exact duplicates: a hash of the normalised headline and body, claimed first-come in an index.

The index maps a content hash to the first article that carried it, for a window (default 72 h)
after which the entry expires. Claiming is atomic, so two replicas never both win one hash, and
idempotent: an article that claims its own hash again (a retried message) still wins it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Protocol

import redis.asyncio as aioredis

from shared.messages import Article, Verdict

EXACT_KEY_PREFIX = "newswire:dedup:exact:"
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Case, accents' composition, punctuation and spacing do not make a story new."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def content_hash(article: Article) -> str:
    material = normalise(article.headline) + "\n" + normalise(article.body_text)
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def judge(article_id: str, first_id: str) -> Verdict:
    """The verdict once the index says who had this content first."""
    if first_id == article_id:
        return Verdict(status="unique", story_id=article_id)
    return Verdict(status="duplicate", story_id=first_id, duplicate_of=first_id)


class ExactIndex(Protocol):
    async def claim(self, content_key: str, article_id: str) -> str:
        """Record ``article_id`` for ``content_key`` unless taken; return the holder."""
        ...


class InMemoryExactIndex:
    """No expiry: it lives as long as one ``newswire process`` run or one test."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}

    async def claim(self, content_key: str, article_id: str) -> str:
        return self.holders.setdefault(content_key, article_id)


# KEYS[1] the content key; ARGV[1] article id, ARGV[2] window in seconds.
_CLAIM_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""


class RedisExactIndex:
    def __init__(self, client: aioredis.Redis, window_seconds: float) -> None:
        self._window = int(window_seconds)
        self._claim = client.register_script(_CLAIM_SCRIPT)

    async def claim(self, content_key: str, article_id: str) -> str:
        holder = await self._claim(keys=[EXACT_KEY_PREFIX + content_key], args=[article_id, self._window])
        return holder.decode() if isinstance(holder, bytes) else str(holder)
