"""Stage plumbing against real Redis: the backlog, claiming, the delivery cap and dead letters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from faststream.redis import RedisBroker
from faststream.redis.parser import BinaryMessageFormatV1

from services.dedup import service as dedup_service
from services.dedup.fingerprint import Fingerprint
from services.dedup.near import InMemoryNearIndex, Match, NearDuplicateDetector
from shared.messages import (
    ARTICLES_TAGGED,
    ARTICLES_UNIQUE,
    ArticleDeduplicated,
    ArticleTagged,
    dead_letter_stream,
)
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER
from tests import factories
from tests.story_texts import story_article

pytestmark = pytest.mark.integration


class PoisonAwareIndex(InMemoryNearIndex):
    """A real in-memory index that raises for one article, as a bug triggered by bad data would."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison
        self.attempts = 0

    async def check_and_insert(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        if article_id == self.poison:
            self.attempts += 1
            raise ValueError(f"cannot index {article_id}")
        return await super().check_and_insert(article_id, fp, now=now)


def _in_memory() -> NearDuplicateDetector:
    return NearDuplicateDetector(InMemoryNearIndex())


def _settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, claim_idle_ms=1000, delivery_cap=3, poll_interval_ms=50)


async def _publish_raw(client: aioredis.Redis, article_id: str, story: int) -> None:
    """Publish the way the tagger does: a FastStream publisher on the stage stream."""
    async with RedisBroker(_url(client)) as broker:
        await broker.publish(
            ArticleTagged(article=story_article(article_id, story), tags=factories.tags()),
            stream=ARTICLES_TAGGED,
            headers={ARTICLE_ID_HEADER: article_id},
        )


def _url(client: aioredis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


async def _wait(predicate: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_backlog_published_before_first_start_is_processed(redis_client: aioredis.Redis) -> None:
    """Entries written before the group existed are read: the group is created at 0, not $."""
    await _publish_raw(redis_client, "early", 1)
    app = dedup_service.create_app(_settings(_url(redis_client)), detector=_in_memory())
    await app.start()
    try:
        await _wait(lambda: _xlen(redis_client, ARTICLES_UNIQUE, 1))
    finally:
        await app.stop()


async def _xlen(client: aioredis.Redis, stream: str, at_least: int) -> bool:
    return await client.xlen(stream) >= at_least


async def test_poison_message_is_dead_lettered_after_the_cap_and_others_flow(
    redis_client: aioredis.Redis,
) -> None:
    """A message whose handling raises is retried by the claimer up to the cap, then dead-lettered
    with its error, while the articles around it are processed."""
    index = PoisonAwareIndex(poison="poison")
    app = dedup_service.create_app(_settings(_url(redis_client)), detector=NearDuplicateDetector(index))
    await app.start()
    try:
        await _publish_raw(redis_client, "before", 1)
        await _publish_raw(redis_client, "poison", 2)
        await _publish_raw(redis_client, "after", 3)
        await _wait(lambda: _xlen(redis_client, dead_letter_stream("dedup"), 1), within=15)
    finally:
        await app.stop()
    # At least once, not exactly once: on a loaded machine a handler can outlast claim_idle_ms
    # (1 s here), and the claimer then handles its entry again. Both articles are there, once or
    # twice each, and the poison is not.
    unique = {
        ArticleDeduplicated.model_validate_json(
            BinaryMessageFormatV1.parse(fields[b"__data__"])[0]
        ).article.id
        for _, fields in await redis_client.xrange(ARTICLES_UNIQUE)
    }
    assert unique == {"before", "after"}
    ((_, letter),) = await redis_client.xrange(dead_letter_stream("dedup"))
    assert letter[b"article_id"] == b"poison"
    assert b"cannot index poison" in letter[b"error"]
    assert int(letter[b"deliveries"]) == 3
    assert index.attempts == 3
    pending = await redis_client.xpending(ARTICLES_TAGGED, "dedup")
    assert pending["pending"] == 0


async def test_entry_left_pending_by_a_dead_replica_is_claimed_and_processed_once(
    redis_client: aioredis.Redis,
) -> None:
    """An entry read by a replica that then died is taken over after the idle time and handled once."""
    await redis_client.xgroup_create(ARTICLES_TAGGED, "dedup", id="0", mkstream=True)
    await _publish_raw(redis_client, "orphan", 1)
    # The dead replica: read it under its own consumer name and never acknowledge.
    await redis_client.xreadgroup("dedup", "dedup-dead-replica", {ARTICLES_TAGGED: ">"}, count=10)
    app = dedup_service.create_app(_settings(_url(redis_client)), detector=_in_memory())
    await app.start()
    try:
        await _wait(lambda: _xlen(redis_client, ARTICLES_UNIQUE, 1))
        await asyncio.sleep(1.0)  # a second claim would show up as a second entry
    finally:
        await app.stop()
    assert await redis_client.xlen(ARTICLES_UNIQUE) == 1
    assert (await redis_client.xpending(ARTICLES_TAGGED, "dedup"))["pending"] == 0
