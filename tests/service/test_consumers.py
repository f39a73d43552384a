"""Each consumer service as one app in memory (TestRedisBroker, in-memory stores)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import pytest
from faststream.redis import TestRedisBroker

from services.dedup import service as dedup_service
from services.dedup.fingerprint import Fingerprint
from services.dedup.near import InMemoryNearIndex, InMemorySentenceFrequency, Match, NearDuplicateDetector
from services.dedup.stories import InMemoryStoryStore
from services.pusher import service as pusher_service
from services.pusher.delivery import InMemorySubscriberStreams
from shared.deadletter import InMemoryDeadLetters
from shared.messages import (
    ARTICLES_DUPLICATES,
    ARTICLES_TAGGED,
    ARTICLES_UNIQUE,
    ArticleDeduplicated,
    ArticleTagged,
)
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER
from shared.status import InMemoryStatusStore
from tests import factories
from tests.story_texts import story_article

pytestmark = pytest.mark.service

# Never connected to: TestRedisBroker replaces the transport, the stores are in memory.
SETTINGS = Settings(redis_url="redis://127.0.0.1:1/0", delivery_cap=2)


def _parts() -> dict[str, Any]:
    return {"status": InMemoryStatusStore(), "dead_letters": InMemoryDeadLetters()}


def _tagged(article_id: str, **overrides: object) -> ArticleTagged:
    return ArticleTagged(article=factories.article(article_id, **overrides), tags=factories.tags())


def _dedup_parts() -> dict[str, Any]:
    """The stage's stores, and a detector and story store in memory."""
    detector = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency())
    return {**_parts(), "detector": detector, "stories": InMemoryStoryStore(3600)}


async def test_dedup_sends_the_first_copy_on_and_the_second_to_audit() -> None:
    """Two copies of one text: the first goes to articles.unique, the second to articles.duplicates."""
    parts = _dedup_parts()
    app = dedup_service.create_app(SETTINGS, **parts)
    seen: dict[str, list[ArticleDeduplicated]] = {ARTICLES_UNIQUE: [], ARTICLES_DUPLICATES: []}

    @app.broker.subscriber(stream=ARTICLES_UNIQUE)
    async def unique(event: ArticleDeduplicated) -> None:
        seen[ARTICLES_UNIQUE].append(event)

    @app.broker.subscriber(stream=ARTICLES_DUPLICATES)
    async def duplicates(event: ArticleDeduplicated) -> None:
        seen[ARTICLES_DUPLICATES].append(event)

    async with TestRedisBroker(app.broker) as broker:
        for article_id in ("first", "second"):
            await broker.publish(
                _tagged(article_id, source=f"outlet {article_id}"),
                stream=ARTICLES_TAGGED,
                headers={ARTICLE_ID_HEADER: article_id},
            )
    assert [e.article.id for e in seen[ARTICLES_UNIQUE]] == ["first"]
    assert [(e.article.id, e.verdict.duplicate_of) for e in seen[ARTICLES_DUPLICATES]] == [
        ("second", "first")
    ]
    second = await parts["status"].get("second")
    assert second.status == "duplicate" and second.fields["story_id"] == "first"
    members = await parts["stories"].members("first")
    assert [(m.article_id, m.source, m.verdict) for m in members] == [
        ("first", "outlet first", "unique"),
        ("second", "outlet second", "duplicate"),
    ]


async def test_dedup_sends_a_rewrite_from_the_first_outlet_on_as_an_update() -> None:
    """A cut copy of a story from the outlet that published it first is an update of that story
    (articles.unique, story id of the first); the same cut from another outlet is a duplicate."""
    parts = _dedup_parts()
    app = dedup_service.create_app(SETTINGS, **parts)
    seen: list[ArticleDeduplicated] = []

    @app.broker.subscriber(stream=ARTICLES_UNIQUE)
    async def unique(event: ArticleDeduplicated) -> None:
        seen.append(event)

    @app.broker.subscriber(stream=ARTICLES_DUPLICATES)
    async def duplicates(event: ArticleDeduplicated) -> None:
        seen.append(event)

    copies = (("s1", "Outlet A", 1.0), ("s2", "Outlet A", 0.7), ("s3", "Outlet B", 0.7))
    async with TestRedisBroker(app.broker) as broker:
        for article_id, outlet, keep in copies:
            event = ArticleTagged(
                article=story_article(article_id, 5, keep=keep, source=outlet), tags=factories.tags()
            )
            await broker.publish(event, stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: article_id})
    verdicts = [(e.article.id, e.verdict.status, e.verdict.story_id, e.verdict.duplicate_of) for e in seen]
    assert verdicts == [
        ("s1", "unique", "s1", None),
        ("s2", "update", "s1", None),
        ("s3", "duplicate", "s1", "s1"),
    ]


async def test_a_stage_handles_its_reads_without_worker_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading and handling a message sends no work to a worker thread: FastStream runs a
    synchronous decoder, and resolves ``Context`` parameters, in one, at ~1 ms of CPU per read."""
    hops: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    parts = _dedup_parts()
    app = dedup_service.create_app(SETTINGS, **parts)
    async with TestRedisBroker(app.broker) as broker:
        await broker.publish(_tagged("only"), stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: "only"})
    assert (await parts["status"].get("only")).status == "unique"
    assert hops == []


async def test_pusher_delivers_each_article_once_to_all_and_its_topics() -> None:
    """A unique article lands on topic:all and each of its topics; a redelivered message adds nothing."""
    streams = InMemorySubscriberStreams()
    parts = _parts()
    app = pusher_service.create_app(SETTINGS, streams=streams, **parts)
    judged = ArticleDeduplicated(
        article=factories.article("a1"), tags=factories.tags(), verdict=factories.verdict(story_id="a1")
    )
    async with TestRedisBroker(app.broker) as broker:
        for _ in range(2):
            await broker.publish(judged, stream=ARTICLES_UNIQUE, headers={ARTICLE_ID_HEADER: "a1"})
    assert {name: [e["id"] for e in entries] for name, entries in streams.streams.items()} == {
        "newswire:topic:all": ["a1"],
        "newswire:topic:politics": ["a1"],
        "newswire:topic:place:KZ": ["a1"],
    }
    delivered = await parts["status"].get("a1")
    assert delivered.status == "delivered"


async def test_pusher_delivers_version_two_once_as_an_update() -> None:
    """Version 2 of a delivered article is delivered once more, as article.updated; its redelivery
    adds nothing; the status record moves on to version 2."""
    streams = InMemorySubscriberStreams()
    parts = _parts()
    app = pusher_service.create_app(SETTINGS, streams=streams, **parts)
    first = ArticleDeduplicated(
        article=factories.article("a1"), tags=factories.tags(), verdict=factories.verdict(story_id="a1")
    )
    second = ArticleDeduplicated(
        article=factories.article("a1", version=2, headline="Putin in Astana eingetroffen"),
        tags=factories.tags(),
        verdict=factories.verdict("update", story_id="a1"),
    )
    async with TestRedisBroker(app.broker) as broker:
        for judged in (first, second, second):
            await broker.publish(judged, stream=ARTICLES_UNIQUE, headers={ARTICLE_ID_HEADER: "a1"})
    events = [(e["id"], e["event"]) for e in streams.streams["newswire:topic:all"]]
    assert events == [("a1", "article.published"), ("a1", "article.updated")]
    delivered = await parts["status"].get("a1")
    assert (delivered.status, delivered.fields["version"]) == ("delivered", "2")


async def test_undecodable_message_is_dead_lettered_at_once() -> None:
    """A payload that is not the stage's event cannot succeed on retry: it is dead-lettered with why."""
    parts = _dedup_parts()
    app = dedup_service.create_app(SETTINGS, **parts)
    async with TestRedisBroker(app.broker) as broker:
        await broker.publish({"not": "an event"}, stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: "bad"})
    (letter,) = parts["dead_letters"].letters
    assert letter.stage == "dedup" and letter.article_id == "bad"
    assert letter.error.startswith("undecodable")
    assert (await parts["status"].get("bad")).status == "dead_lettered"


class ExplodingIndex:
    async def check_and_insert(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        raise RuntimeError("index exploded")

    async def check_and_insert_many(
        self, items: Sequence[tuple[str, Fingerprint]], *, now: float | None = None
    ) -> list[Match | None]:
        raise RuntimeError("index exploded")


def _exploding_parts() -> dict[str, Any]:
    return {**_dedup_parts(), "detector": NearDuplicateDetector(ExplodingIndex())}


async def test_failure_at_the_delivery_cap_is_dead_lettered_with_its_error() -> None:
    """With a cap of 1, a handler error dead-letters the message with the error text."""
    parts = _exploding_parts()
    settings = SETTINGS.model_copy(update={"delivery_cap": 1})
    app = dedup_service.create_app(settings, **parts)
    async with TestRedisBroker(app.broker) as broker:
        await broker.publish(_tagged("boom"), stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: "boom"})
    (letter,) = parts["dead_letters"].letters
    assert "index exploded" in letter.error
    assert letter.deliveries == 1


async def test_failure_below_the_cap_leaves_the_message_for_a_retry() -> None:
    """Below the cap a failure is not dead-lettered: the entry stays pending for the claimer."""
    parts = _exploding_parts()
    app = dedup_service.create_app(SETTINGS, **parts)
    async with TestRedisBroker(app.broker) as broker:
        await broker.publish(_tagged("boom"), stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: "boom"})
    assert parts["dead_letters"].letters == []
    assert await parts["status"].get("boom") is None
