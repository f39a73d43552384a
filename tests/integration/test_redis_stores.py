"""The Redis-backed stores against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from services.dedup.index import RedisExactIndex
from services.pusher.delivery import RedisSubscriberStreams
from services.pusher.routing import StreamEntry
from shared.status import RedisStatusStore, StatusUpdate

pytestmark = pytest.mark.integration


async def test_status_record_moves_forward_only(redis_client: aioredis.Redis) -> None:
    """The Lua write keeps the most advanced status and every stage's timestamp."""
    store = RedisStatusStore(redis_client, ttl_seconds=60)
    await store.record(StatusUpdate.reached("a1", "received", document={"v": 1}))
    await store.record(StatusUpdate.reached("a1", "duplicate", fields={"duplicate_of": "a0"}))
    await store.record(StatusUpdate.reached("a1", "tagged", document={"v": 2}))
    found = await store.get("a1")
    assert found is not None
    assert (found.status, found.document, found.fields) == ("duplicate", {"v": 1}, {"duplicate_of": "a0"})
    assert set(found.history) == {"received", "tagged", "duplicate"}
    assert 0 < await redis_client.ttl("newswire:article:a1") <= 60


async def test_exact_index_has_one_winner_under_concurrent_claims(redis_client: aioredis.Redis) -> None:
    """Fifty concurrent claims of one hash: exactly one article holds it, all agree which."""
    index = RedisExactIndex(redis_client, window_seconds=3600)
    holders = await asyncio.gather(*(index.claim("samehash", f"article-{n}") for n in range(50)))
    assert len(set(holders)) == 1
    assert await redis_client.ttl("newswire:dedup:exact:samehash") > 3500


async def test_delivery_happens_once_per_article(redis_client: aioredis.Redis) -> None:
    """A retried delivery of the same article adds nothing to the subscriber streams."""
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    entries = [
        StreamEntry("newswire:topic:all", {"id": "a1", "event": "e", "topic": "all", "article": "{}"}),
        StreamEntry("newswire:topic:x", {"id": "a1", "event": "e", "topic": "x", "article": "{}"}),
    ]
    assert await streams.deliver_once("a1", entries) is True
    assert await streams.deliver_once("a1", entries) is False
    assert await redis_client.xlen("newswire:topic:all") == 1
    assert await redis_client.xlen("newswire:topic:x") == 1
    ((_, fields),) = await redis_client.xrange("newswire:topic:x")
    assert fields == {b"id": b"a1", b"event": b"e", b"topic": b"x", b"article": b"{}"}


async def test_subscriber_streams_are_trimmed_by_age_not_count(redis_client: aioredis.Redis) -> None:
    """Entries older than the retention go; younger ones stay however many there are."""
    await redis_client.xadd("newswire:topic:all", {"id": "old"}, id="1-0")
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    for n in range(3):
        entry = StreamEntry(
            "newswire:topic:all", {"id": f"n{n}", "event": "e", "topic": "all", "article": "{}"}
        )
        await streams.deliver_once(f"n{n}", [entry])
    ids = [fields[b"id"] for _, fields in await redis_client.xrange("newswire:topic:all")]
    assert ids == [b"n0", b"n1", b"n2"]
