"""Stages that handle a read batch at once (``batch_handler``), against real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from shared.deadletter import DeadLetter
from shared.messages import ArticleReceived, dead_letter_stream
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER, ConsumerRuntime, Output, StageResult
from tests import factories

pytestmark = pytest.mark.integration

INPUT, OUTPUT, SERVICE = "test:batch:in", "test:batch:out", "batchtest"
ARTICLES = 10
POISON = "a3"


async def _fill(redis_url: str) -> None:
    async with RedisBroker(redis_url) as broker:
        for n in range(ARTICLES):
            article_id = f"a{n}"
            await broker.publish(
                ArticleReceived(article=factories.article(article_id)),
                stream=INPUT,
                headers={ARTICLE_ID_HEADER: article_id},
            )


async def test_one_failed_event_of_a_batch_fails_alone(redis_client: aioredis.Redis, redis_url: str) -> None:
    """A batch handler that gives an error for one event: the other nine are published and acknowledged
    in the first batch; the failed one is claimed and retried on its own, and dead-lettered with its
    error at the delivery cap. The handler saw the first read as one batch of all ten."""
    await _fill(redis_url)
    settings = Settings(
        redis_url=redis_url, read_batch=ARTICLES, claim_idle_ms=1000, delivery_cap=2, poll_interval_ms=50
    )
    runtime = ConsumerRuntime(SERVICE, settings)
    batches: list[list[str]] = []

    async def handle(events: Sequence[ArticleReceived]) -> list[StageResult | Exception]:
        batches.append([event.article.id for event in events])
        return [
            ValueError(f"cannot handle {event.article.id}")
            if event.article.id == POISON
            else StageResult(outputs=(Output(OUTPUT, event, event.article.id),))
            for event in events
        ]

    runtime.stage(INPUT, ArticleReceived, batch_handler=handle, outputs=(OUTPUT,))
    app = runtime.app()
    await app.start()
    try:
        for _ in range(400):  # until the dead letter is written, 20 s at most
            if await redis_client.xlen(dead_letter_stream(SERVICE)):
                break
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    assert batches[0] == [f"a{n}" for n in range(ARTICLES)]
    assert all(batch == [POISON] for batch in batches[1:]), batches
    published = [fields for _, fields in await redis_client.xrange(OUTPUT)]
    assert len(published) == ARTICLES - 1
    letters = [
        DeadLetter.decode(fields) for _, fields in await redis_client.xrange(dead_letter_stream(SERVICE))
    ]
    assert [(letter["article_id"], letter["deliveries"]) for letter in letters] == [(POISON, 2)]
    assert "cannot handle a3" in letters[0]["error"]
    assert (await redis_client.xpending(INPUT, SERVICE))["pending"] == 0


@pytest.mark.parametrize(
    ("bad_entry", "kept"),
    [
        ({"__data__": b"\x00 not a FastStream envelope"}, b"\x00 not a FastStream envelope"),
        # Another client's entry, without FastStream's field: the letter keeps its fields as JSON.
        ({"headline": "hand-written", "note": "no envelope"}, b'"note": "no envelope"'),
    ],
    ids=["garbage-envelope", "foreign-fields"],
)
async def test_an_undecodable_entry_in_a_batch_is_dead_lettered_and_the_rest_flow(
    redis_client: aioredis.Redis, redis_url: str, bad_entry: dict[str, str | bytes], kept: bytes
) -> None:
    """An entry that is not a message at all (written by hand into the stage stream) does not stop the
    batch around it for good: every good entry is handled once, the bad one is dead-lettered as
    undecodable with what it held, and nothing is left pending."""
    await _fill(redis_url)
    await redis_client.xadd(INPUT, bad_entry)
    await _fill(redis_url)
    settings = Settings(
        redis_url=redis_url, read_batch=50, claim_idle_ms=1000, delivery_cap=2, poll_interval_ms=50
    )
    runtime = ConsumerRuntime(SERVICE, settings)
    handled: list[str] = []

    async def handle(events: Sequence[ArticleReceived]) -> list[StageResult | Exception]:
        handled.extend(event.article.id for event in events)
        return [StageResult(outputs=(Output(OUTPUT, event, event.article.id),)) for event in events]

    runtime.stage(INPUT, ArticleReceived, batch_handler=handle, outputs=(OUTPUT,))
    app = runtime.app()
    await app.start()
    try:
        for _ in range(400):  # until the bad entry is dead-lettered and the rest published, 20 s at most
            done = await redis_client.xlen(OUTPUT) >= 2 * ARTICLES
            if done and await redis_client.xlen(dead_letter_stream(SERVICE)):
                break
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    assert sorted(handled) == sorted(f"a{n}" for n in range(ARTICLES) for _ in range(2))
    entries = await redis_client.xrange(dead_letter_stream(SERVICE))
    letters = [DeadLetter.decode(fields) for _, fields in entries]
    assert len(letters) == 1 and "undecodable" in letters[0]["error"], letters
    assert kept in letters[0]["payload"]
    assert (await redis_client.xpending(INPUT, SERVICE))["pending"] == 0


async def test_two_readers_hold_two_batches_at_once_and_hand_both_back_on_stop(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """With ``readers=2`` one process has two read batches in hand at once, each entry in exactly one
    of them; a stop that cuts both handlers off hands every entry either reader held back to the
    group (claimable at once) and removes both readers' consumer names."""
    await _fill(redis_url)
    settings = Settings(
        redis_url=redis_url, read_batch=ARTICLES // 2, poll_interval_ms=50, shutdown_grace_s=0.5
    )
    runtime = ConsumerRuntime(SERVICE, settings)
    batches: list[list[str]] = []
    both_in_hand = asyncio.Event()

    async def handle(events: Sequence[ArticleReceived]) -> list[StageResult | Exception]:
        batches.append([event.article.id for event in events])
        if len(batches) == 2:
            both_in_hand.set()
        await asyncio.sleep(3600)  # held until the stop cuts it off
        raise AssertionError("not reached")

    runtime.stage(INPUT, ArticleReceived, batch_handler=handle, outputs=(OUTPUT,), readers=2)
    app = runtime.app()
    await app.start()
    try:
        await asyncio.wait_for(both_in_hand.wait(), 20)
    finally:
        await app.stop()
    assert sorted(id_ for batch in batches for id_ in batch) == sorted(f"a{n}" for n in range(ARTICLES))
    held = await redis_client.xpending_range(INPUT, SERVICE, min="-", max="+", count=100)
    assert {entry["consumer"] for entry in held} == {b"released"} and len(held) == ARTICLES
    consumers = {c["name"] for c in await redis_client.xinfo_consumers(INPUT, SERVICE)}
    assert consumers == {b"released"}
