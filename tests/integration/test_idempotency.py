"""Idempotency, rate limit and feed state in a real Redis; intake's 503 against an unreachable one."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis.asyncio as aioredis

from services.intake.access import RedisRateLimiter
from services.intake.app import InMemorySink, create_app
from services.intake.feeds import FeedValidators, RedisFeedStateStore
from services.intake.idempotency import IdempotencyKey, RedisIdempotencyStore
from shared.embedded_redis import free_port
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.integration

GUID = IdempotencyKey.for_guid("wire-1", "Example Wire")
HEADER = IdempotencyKey.for_header("upload-1", "key:abc")


async def test_claims_follow_the_rules_new_duplicate_version_mismatch(redis_client: aioredis.Redis) -> None:
    """First claim is new; after completion the same content is a duplicate, other content a new
    version of the same id under a guid and a mismatch under an Idempotency-Key; records expire."""
    store = RedisIdempotencyStore(redis_client, ttl_seconds=60)
    first = await store.claim(GUID, "01A", "fp1")
    assert (first.outcome, first.article_id, first.version) == ("new", "01A", 1)
    await store.complete(GUID, first)
    assert await store.fingerprint(GUID) == "fp1"
    again = await store.claim(GUID, "01B", "fp1")
    assert (again.outcome, again.article_id, again.version) == ("duplicate", "01A", 1)
    changed = await store.claim(GUID, "01C", "fp2")
    assert (changed.outcome, changed.article_id, changed.version) == ("version", "01A", 2)
    assert await store.fingerprint(GUID) is None  # version 2 is still in flight
    await store.complete(GUID, changed)
    assert await store.fingerprint(GUID) == "fp2"
    assert 0 < await redis_client.ttl(GUID.redis_key) <= 60

    keyed = await store.claim(HEADER, "01D", "fp1")
    await store.complete(HEADER, keyed)
    assert (await store.claim(HEADER, "01E", "fp9")).outcome == "mismatch"


async def test_concurrent_claims_of_one_key_yield_one_publisher(redis_client: aioredis.Redis) -> None:
    """Twenty simultaneous claims (two store instances, like two replicas): exactly one may publish."""
    stores = [RedisIdempotencyStore(redis_client, 60), RedisIdempotencyStore(redis_client, 60)]
    claims = await asyncio.gather(*(stores[i % 2].claim(GUID, f"01X{i}", "fp") for i in range(20)))
    publishers = [claim for claim in claims if claim.publishes]
    assert len(publishers) == 1
    assert {claim.outcome for claim in claims} == {"new", "in_progress"}
    assert {claim.article_id for claim in claims} == {publishers[0].article_id}


async def test_an_abandoned_or_expired_lease_is_taken_over_with_the_same_id(
    redis_client: aioredis.Redis,
) -> None:
    """A claim abandoned after a failed publish, or whose lease ran out, is taken over under its id."""
    store = RedisIdempotencyStore(redis_client, ttl_seconds=60, lease_seconds=0.2)
    first = await store.claim(GUID, "01A", "fp1")
    assert (await store.claim(GUID, "01B", "fp1")).outcome == "in_progress"
    await store.abandon(GUID, first)
    retaken = await store.claim(GUID, "01C", "fp1")
    assert (retaken.outcome, retaken.article_id) == ("new", "01A")
    await asyncio.sleep(0.3)  # the retaker "crashed": its lease runs out
    third = await store.claim(GUID, "01D", "fp1")
    assert (third.outcome, third.article_id, third.version) == ("new", "01A", 1)


async def test_the_rate_limit_is_shared_by_replicas(redis_client: aioredis.Redis) -> None:
    """Two limiter instances draw on one allowance per caller; another caller has its own."""
    first, second = RedisRateLimiter(redis_client, 4), RedisRateLimiter(redis_client, 4)
    waits = [await (first if i % 2 else second).acquire("key:a") for i in range(5)]
    assert waits[:4] == [0, 0, 0, 0]
    assert 0 < waits[4] <= 15
    assert await first.acquire("key:b") == 0


async def test_feed_validators_and_leases_live_in_redis(redis_client: aioredis.Redis) -> None:
    """ETag and Last-Modified survive a new store instance; a lease is held by one poller at a time."""
    url = "https://feeds.example/rss"
    await RedisFeedStateStore(redis_client).save_validators(url, FeedValidators('"e1"', "Thu, 26 Nov 2026"))
    state = RedisFeedStateStore(redis_client)
    assert await state.validators(url) == FeedValidators('"e1"', "Thu, 26 Nov 2026")
    assert await state.lease(url, 5) is True
    assert await RedisFeedStateStore(redis_client).lease(url, 5) is False


async def test_guid_resubmission_through_the_app_writes_one_entry(redis_client: aioredis.Redis) -> None:
    """With the Redis idempotency store, the same item posted twice reaches the sink once."""
    sink = InMemorySink()
    app = create_app(
        Settings(),
        sink=sink,
        status=InMemoryStatusStore(),
        idempotency=RedisIdempotencyStore(redis_client, 60),
    )
    item = {"headline": "H", "body": "B", "guid": "g-1", "source": "s"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as http:
        answers = await asyncio.gather(*(http.post("/v1/articles", json=item) for _ in range(5)))
        repeat = await http.post("/v1/articles", json=item)
    assert len(sink.events) == 1
    assert {a.json()["id"] for a in [*answers, repeat] if a.status_code == 202} == {sink.events[0].article.id}
    assert repeat.json()["duplicate_submission"] is True


async def test_an_unreachable_redis_answers_503_within_the_time_limit() -> None:
    """Intake pointed at a port where nothing listens answers 503 (not 500, no hang) on POST and GET."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    app = create_app(Settings(redis_url=url, redis_timeout_s=1.0), sink=InMemorySink(), redis=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as http:
        started = time.monotonic()
        posted = await http.post("/v1/articles", json={"headline": "H", "body": "B", "guid": "g"})
        read = await http.get("/v1/articles/01ANY")
        elapsed = time.monotonic() - started
    await client.aclose()
    assert (posted.status_code, read.status_code) == (503, 503)
    assert elapsed < 5
