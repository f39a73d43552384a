"""The story store: which articles belong to which story, for one dedup window.

A story is named after its first article (the unique one). Each member is recorded once per
(article id, version) with its outlet, its verdict and when it was judged; the first record wins,
so a redelivered message changes nothing. Records expire one window after the story's last member
joined, like the index entries they mirror.

The verdict needs three answers from here: the outlet of a story's first article (a copy from the
same outlet is an update, not a duplicate), the story an article id already belongs to (a new
version of an article stays in its story), and whether this very (article id, version) was judged
already: a redelivered message gets its recorded verdict again instead of a second pass through
the detector (which would count the outlet's sentences twice and could judge it differently).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Protocol

import redis.asyncio as aioredis

from shared.messages import VerdictStatus

STORY_KEY_PREFIX = "newswire:story:"
STORY_OF_KEY_PREFIX = "newswire:story-of:"


@dataclass(frozen=True, slots=True)
class StoryMember:
    """One article of a story, as dedup judged it."""

    article_id: str
    version: int
    source: str | None
    verdict: VerdictStatus
    at: float

    @property
    def field(self) -> str:
        return f"{self.article_id}:{self.version}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> StoryMember:
        return cls(**json.loads(raw))


def first_member(members: list[StoryMember], article_id: str) -> StoryMember | None:
    """The earliest version recorded for ``article_id`` among ``members``."""
    own = [m for m in members if m.article_id == article_id]
    return min(own, key=lambda m: m.version) if own else None


class StoryStore(Protocol):
    async def add(self, story_id: str, member: StoryMember) -> None:
        """Record ``member`` in the story (a record already there for its id and version stays)."""
        ...

    async def members(self, story_id: str) -> list[StoryMember]:
        """The story's members in the order they were judged (empty when unknown or expired)."""
        ...

    async def story_of(self, article_id: str) -> str | None:
        """The story ``article_id`` belongs to, if it was judged within the window."""
        ...

    async def judged(self, article_id: str, version: int) -> tuple[str, StoryMember] | None:
        """(story id, member) if this version of the article was recorded within the window."""
        ...


class InMemoryStoryStore:
    """The store in one process (``newswire process``, tests); members leave after the window."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._stories: dict[str, dict[str, StoryMember]] = {}
        self._story_of: dict[str, str] = {}

    def _live(self, members: dict[str, StoryMember]) -> list[StoryMember]:
        horizon = time.time() - self.window_seconds
        return sorted((m for m in members.values() if m.at > horizon), key=lambda m: (m.at, m.version))

    async def add(self, story_id: str, member: StoryMember) -> None:
        self._stories.setdefault(story_id, {}).setdefault(member.field, member)
        self._story_of[member.article_id] = story_id

    async def members(self, story_id: str) -> list[StoryMember]:
        return self._live(self._stories.get(story_id, {}))

    async def story_of(self, article_id: str) -> str | None:
        story_id = self._story_of.get(article_id)
        if story_id is None:
            return None
        alive = any(m.article_id == article_id for m in await self.members(story_id))
        return story_id if alive else None

    async def judged(self, article_id: str, version: int) -> tuple[str, StoryMember] | None:
        story_id = await self.story_of(article_id)
        if story_id is None:
            return None
        for member in await self.members(story_id):
            if (member.article_id, member.version) == (article_id, version):
                return story_id, member
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStoryStore:
    """A hash per story (``<id>:<version>`` -> member JSON; the dedup script adds ``o:<outlet tag>``
    fields for its sentence counts) and a pointer per article, with a TTL."""

    def __init__(self, client: aioredis.Redis, window_seconds: float) -> None:
        self._client = client
        self._ttl = max(1, int(window_seconds))

    async def add(self, story_id: str, member: StoryMember) -> None:
        story_key = STORY_KEY_PREFIX + story_id
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hsetnx(story_key, member.field, member.to_json())
            pipe.expire(story_key, self._ttl)
            pipe.set(STORY_OF_KEY_PREFIX + member.article_id, story_id, ex=self._ttl)
            await pipe.execute()

    async def members(self, story_id: str) -> list[StoryMember]:
        raw = await self._client.hgetall(STORY_KEY_PREFIX + story_id)
        # Fields 'o:<outlet tag>' mark outlets counted for sentence learning (redis_dedup): not members.
        members = (StoryMember.from_json(v) for f, v in raw.items() if not _text(f).startswith("o:"))
        return sorted(members, key=lambda m: (m.at, m.version))

    async def story_of(self, article_id: str) -> str | None:
        story_id = await self._client.get(STORY_OF_KEY_PREFIX + article_id)
        return _text(story_id) if story_id is not None else None

    async def judged(self, article_id: str, version: int) -> tuple[str, StoryMember] | None:
        # One round trip for the usual case (an article never seen: no pointer).
        story_id = await self.story_of(article_id)
        if story_id is None:
            return None
        raw = await self._client.hget(STORY_KEY_PREFIX + story_id, f"{article_id}:{version}")
        return (story_id, StoryMember.from_json(raw)) if raw is not None else None
