"""The Redis-backed stores against a real redis-server."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from services.dedup.stories import RedisStoryStore, StoryMember
from services.pusher.delivery import Delivery, RedisSubscriberStreams
from services.pusher.routing import StreamEntry
from shared.status import RedisStatusStore, StatusUpdate

pytestmark = pytest.mark.integration


async def test_status_record_moves_forward_only(redis_client: aioredis.Redis) -> None:
    """The Lua write keeps the most advanced status, every stage's timestamp, and the document of
    the most advanced stage that wrote one, even when it lands after a later stage's facts."""
    store = RedisStatusStore(redis_client, ttl_seconds=60)
    await store.record(StatusUpdate.reached("a1", "received", document={"v": 1}))
    await store.record(StatusUpdate.reached("a1", "duplicate", fields={"duplicate_of": "a0"}))
    await store.record(StatusUpdate.reached("a1", "tagged", document={"v": 2}))
    await store.record(StatusUpdate.reached("a1", "received", document={"v": 0}))
    found = await store.get("a1")
    assert found is not None
    assert (found.status, found.document, found.fields) == ("duplicate", {"v": 2}, {"duplicate_of": "a0"})
    assert set(found.history) == {"received", "tagged", "duplicate"}
    assert 0 < await redis_client.ttl("newswire:article:a1") <= 60


async def test_new_version_moves_a_delivered_record_forward(redis_client: aioredis.Redis) -> None:
    """Version 2 reaching 'update' replaces version 1's 'delivered' record and drops its facts;
    a late write of version 1 only adds to the history."""
    store = RedisStatusStore(redis_client, ttl_seconds=60)
    await store.record(StatusUpdate.reached("a1", "duplicate", fields={"duplicate_of": "a0"}, version=1))
    await store.record(StatusUpdate.reached("a1", "delivered", version=1))
    await store.record(StatusUpdate.reached("a1", "update", fields={"story_id": "a0"}, version=2))
    await store.record(StatusUpdate.reached("a1", "delivered", fields={"topics": "all"}, version=1))
    found = await store.get("a1")
    assert found is not None
    assert (found.status, found.fields) == ("update", {"story_id": "a0", "version": "2"})
    await store.record(StatusUpdate.reached("a1", "delivered", version=2))
    assert (await store.get("a1")).status == "delivered"  # type: ignore[union-attr]  # recorded above


async def test_story_store_keeps_members_in_order_with_the_window_as_ttl(
    redis_client: aioredis.Redis,
) -> None:
    """Members come back in the order judged; a redelivered member keeps its first record; the
    story and the article's pointer expire with the window."""
    stories = RedisStoryStore(redis_client, window_seconds=3600)
    await stories.add("s1", StoryMember("s1", 1, "Outlet A", "unique", 100.0))
    await stories.add("s1", StoryMember("c2", 1, "Outlet B", "duplicate", 101.0))
    await stories.add("s1", StoryMember("c2", 1, "Outlet B", "duplicate", 105.0))
    await stories.add("s1", StoryMember("s1", 2, "Outlet A", "update", 102.0))
    members = await stories.members("s1")
    assert [(m.article_id, m.version, m.source, m.verdict, m.at) for m in members] == [
        ("s1", 1, "Outlet A", "unique", 100.0),
        ("c2", 1, "Outlet B", "duplicate", 101.0),
        ("s1", 2, "Outlet A", "update", 102.0),
    ]
    assert await stories.story_of("c2") == "s1"
    assert await stories.story_of("nobody") is None
    assert 3500 < await redis_client.ttl("newswire:story:s1") <= 3600
    assert 3500 < await redis_client.ttl("newswire:story-of:c2") <= 3600


async def test_delivery_happens_once_per_article_version(redis_client: aioredis.Redis) -> None:
    """A retried delivery of the same article version adds nothing to the subscriber streams, also
    within one pipelined batch; version 2 of the article is delivered once in its turn."""
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    entries = [
        StreamEntry("newswire:topic:all", {"id": "a1", "event": "e", "topic": "all", "article": "{}"}),
        StreamEntry("newswire:topic:x", {"id": "a1", "event": "e", "topic": "x", "article": "{}"}),
    ]
    assert (await streams.deliver_many([Delivery("a1", entries)]))[0] is True
    assert (await streams.deliver_many([Delivery("a1", entries)]))[0] is False
    assert (await streams.deliver_many([Delivery("a1", entries, 1)]))[0] is False
    assert await redis_client.xlen("newswire:topic:all") == 1
    assert await redis_client.xlen("newswire:topic:x") == 1
    ((_, fields),) = await redis_client.xrange("newswire:topic:x")
    assert fields == {b"id": b"a1", b"event": b"e", b"topic": b"x", b"article": b"{}"}
    version_2 = Delivery("a1", entries, 2)
    assert await streams.deliver_many([version_2, version_2]) == [True, False]
    assert await redis_client.xlen("newswire:topic:all") == 2


async def test_subscriber_streams_are_trimmed_by_age_not_count(redis_client: aioredis.Redis) -> None:
    """Entries older than the retention go; younger ones stay however many there are."""
    await redis_client.xadd("newswire:topic:all", {"id": "old"}, id="1-0")
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    for n in range(3):
        entry = StreamEntry(
            "newswire:topic:all", {"id": f"n{n}", "event": "e", "topic": "all", "article": "{}"}
        )
        await streams.deliver_many([Delivery(f"n{n}", [entry])])
    ids = [fields[b"id"] for _, fields in await redis_client.xrange("newswire:topic:all")]
    assert ids == [b"n0", b"n1", b"n2"]
