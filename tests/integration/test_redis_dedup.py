"""The one-script dedup path against a real redis-server: the verdicts and story records of the
in-memory path, the outlet template learnt across replicas, atomic across concurrent replicas."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

import pytest
import redis.asyncio as aioredis
import structlog

from services.dedup.near import InMemoryNearIndex, InMemorySentenceFrequency, NearDuplicateDetector
from services.dedup.redis_dedup import MAX_ATTEMPTS, RedisDeduplicator, TemplateCache
from services.dedup.redis_near import COUNT_HASHES, RedisLayout, compact_hash_entries, shard_name
from services.dedup.service import warn_on_long_compact_hashes
from services.dedup.stories import InMemoryStoryStore, RedisStoryStore
from services.dedup.verdict import Deduplicator
from shared.embedded_redis import COMPACT_HASH_ENTRIES
from shared.messages import ArticleTagged
from shared.metrics import StageMetrics
from tests import factories
from tests.story_texts import story_article, story_sentences

pytestmark = pytest.mark.integration

WINDOW = 3600
# (article id, story seed, share of sentences kept, outlet, version)
SCENARIO = [
    ("a", 1, 1.0, "A", 1),
    ("b", 1, 0.5, "B", 1),  # cut copy from another outlet: duplicate
    ("c", 1, 0.7, "A", 1),  # the first outlet's rewrite: update
    ("b", 1, 0.6, "B", 2),  # version 2 of the duplicate: update of the story
    ("d", 2, 1.0, "A", 1),  # another story: unique
    ("e", 1, 0.8, "A", 1),  # the first outlet's third article of story 1: still an update
    ("f", 1, 0.9, "A", 1),
    ("c", 1, 0.7, "A", 1),  # redelivered
    ("g", 2, 1.0, "C", 1),  # exact copy of d from another outlet: duplicate
    ("h", 2, 1.0, "A", 1),  # exact copy of d from its own outlet: a resubmission, duplicate
]


def _event(article_id: str, seed: int, keep: float, source: str, version: int) -> ArticleTagged:
    article = story_article(article_id, seed, keep=keep, source=source, version=version)
    return ArticleTagged(article=article, tags=factories.tags())


@pytest.fixture
def layout() -> RedisLayout:
    return RedisLayout(window_seconds=WINDOW, shards=64)


async def test_same_verdicts_and_story_records_as_the_in_memory_path(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Every step of a story with several outlets, versions and a redelivery gets the verdict the
    in-memory Deduplicator gives, and the story store reads the same members back."""
    in_memory = Deduplicator(
        NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency()), InMemoryStoryStore(WINDOW)
    )
    on_redis = RedisDeduplicator(redis_client, layout)
    expected, found = [], []
    for step in SCENARIO:
        expected.append((await in_memory.judge(_event(*step))).verdict)
        found.append((await on_redis.judge(_event(*step))).verdict)
    assert found == expected
    assert [v.status for v in found] == (
        ["unique", "duplicate", "update", "update", "unique"] + ["update"] * 3 + ["duplicate"] * 2
    )
    stories = RedisStoryStore(redis_client, WINDOW)
    for story in ("a", "d"):
        members = [(m.article_id, m.version, m.source, m.verdict) for m in await stories.members(story)]
        assert members == [
            (m.article_id, m.version, m.source, m.verdict) for m in await in_memory.stories.members(story)
        ]
    assert await stories.story_of("b") == "a"


OUTLET_A_TEMPLATE = tuple(story_sentences(90, sentences=3))


def _outlet_a_article(article_id: str, seed: int) -> ArticleTagged:
    """Story ``seed`` from outlet A, its template block at the end."""
    article = story_article(article_id, seed, source="A")
    article = article.model_copy(update={"body": (*article.body, *OUTLET_A_TEMPLATE)})
    return ArticleTagged(article=article, tags=factories.tags())


async def _teach_outlet_a_its_template(teacher: RedisDeduplicator) -> None:
    """Two unique stories of outlet A: its template block is counted in Redis (other processes do
    not know it yet)."""
    for n, seed in enumerate((11, 12)):
        assert (await teacher.judge(_outlet_a_article(f"full{n}", seed))).verdict.status == "unique"


async def test_outlet_template_is_learnt_and_shared_by_replicas(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Once two unique articles of an outlet carried a template block, its stubs carrying only
    that block and a lead are unique, on a replica that learnt it and on one that did not."""
    first, second = RedisDeduplicator(redis_client, layout), RedisDeduplicator(redis_client, layout)
    await _teach_outlet_a_its_template(first)
    calls = first.attempts
    for n, replica in enumerate((first, second, first)):
        lead = story_sentences(20 + n, sentences=1)
        body = (*lead, *OUTLET_A_TEMPLATE)
        stub = story_article(f"stub{n}", 0, source="A", headline=f"Kurz {n}", body=body)
        verdict = (await replica.judge(ArticleTagged(article=stub, tags=factories.tags()))).verdict
        assert verdict.status == "unique"
    # The first stub on each replica finds the template changed (one more call); the third stub is
    # judged with the first replica's remembered template in one call.
    assert first.attempts - calls == 3 and second.attempts == 2


async def test_concurrent_copies_on_two_replicas_make_one_unique_per_story(
    redis_url: str, layout: RedisLayout
) -> None:
    """Two replicas with their own connections judging copies of each story at the same moment:
    exactly one copy per story is unique, and every other copy names it as its story."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        replicas = [RedisDeduplicator(client, layout) for client in clients]
        for story in range(10):
            events = [_event(f"s{story}-{n}", 100 + story, 1.0 - n / 10, f"Outlet {n}", 1) for n in range(2)]
            judged = await asyncio.gather(
                *(replica.judge(event) for replica, event in zip(replicas, events, strict=True))
            )
            verdicts = [j.verdict for j in judged]
            unique = [v for v in verdicts if v.status == "unique"]
            assert len(unique) == 1
            assert {v.story_id for v in verdicts} == {unique[0].story_id}
    finally:
        for client in clients:
            await client.aclose()


async def test_concurrent_calls_of_one_process_are_judged_in_the_order_made(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A process's readers judge their read batches at the same time. A batch read later is judged
    after the one read before it, even when that one needs a second round trip (its outlet's
    template changed): the story's first article is the one read first, the copy its duplicate.
    The later batch's first round goes out before the earlier one's replies are back (Redis is
    paused: none can come); the script holds the copy back, and it is sent again after."""
    await _teach_outlet_a_its_template(RedisDeduplicator(redis_client, layout))
    first = _outlet_a_article("x", 13)
    copy = ArticleTagged(article=story_article("y", 13, source="B"), tags=factories.tags())
    process = RedisDeduplicator(redis_client, layout)  # has not learnt A's template: x is sent twice
    await process.judge(_event("warm", 77, 1.0, "C", 1))  # its connection is open before the pause

    await redis_client.execute_command("CLIENT", "PAUSE", "300")
    judged = await asyncio.gather(process.judge_many([first]), process.judge_many([copy]))

    verdicts = [j.verdict for (j,) in judged if not isinstance(j, Exception)]
    assert [(v.status, v.story_id) for v in verdicts] == [("unique", "x"), ("duplicate", "x")]
    assert process.replies == Counter(judged=3, sent_back=1, held=1)  # "warm" is judged too


async def test_rounds_after_a_round_that_held_back_wait_for_the_calls_before_them(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Once a reply says an article was sent back, a later call's first round waits until the calls
    before it are over: its copy of that article is then judged once, a duplicate, not held."""
    await _teach_outlet_a_its_template(RedisDeduplicator(redis_client, layout))
    process = RedisDeduplicator(redis_client, layout)
    (x,) = await process.judge_many([_outlet_a_article("x", 13)])  # sent back, then judged
    assert not isinstance(x, Exception) and process.replies == Counter(judged=1, sent_back=1)

    copy = ArticleTagged(article=story_article("y", 13, source="B"), tags=factories.tags())
    (y,) = await process.judge_many([copy])

    assert not isinstance(y, Exception) and (y.verdict.status, y.verdict.story_id) == ("duplicate", "x")
    assert process.replies == Counter(judged=2, sent_back=1)


async def test_an_article_sent_again_is_judged_before_the_rest_of_its_batch(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """When an article's outlet template changed, its copy later in the same read batch waits for
    its second round trip: the story's first article is the one read first, even when its copy
    came in the same batch. Another story in the batch does not wait."""
    await _teach_outlet_a_its_template(RedisDeduplicator(redis_client, layout))
    batch = [
        _outlet_a_article("x", 13),  # sent again: its fingerprint kept A's template in
        ArticleTagged(article=story_article("y", 13, source="B"), tags=factories.tags()),
        ArticleTagged(article=story_article("z", 14, source="B"), tags=factories.tags()),
    ]
    metrics = StageMetrics("dedup")
    # It has not learnt A's template.
    process = RedisDeduplicator(redis_client, layout, on_reply=metrics.dedup_replied)

    judged = await process.judge_many(batch)

    verdicts = [j.verdict for j in judged if not isinstance(j, Exception)]
    assert [(v.status, v.story_id) for v in verdicts] == [
        ("unique", "x"),
        ("duplicate", "x"),
        ("unique", "z"),
    ]
    # x and its copy y twice: y waited for x's second round trip; the metric counts the same.
    assert process.replies == Counter(judged=3, sent_back=1, held=1)
    for kind, calls in process.replies.items():
        assert (
            metrics.registry.get_sample_value("newswire_dedup_script_calls_total", {"reply": kind}) == calls
        )


class _ForgetfulTemplates(TemplateCache):
    """Learns nothing: the article is fingerprinted with the old template every time."""

    def learn(self, outlet: str, asked: Iterable[int], template: frozenset[int]) -> None:
        pass


async def test_an_article_whose_template_keeps_changing_fails_alone(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """An article sent back MAX_ATTEMPTS times fails (the stage retries it later); the articles
    after it in its batch are judged all the same, without it (its copy once it failed)."""
    await _teach_outlet_a_its_template(RedisDeduplicator(redis_client, layout))
    process = RedisDeduplicator(redis_client, layout)
    process.templates = _ForgetfulTemplates()
    batch = [
        _outlet_a_article("x", 13),
        ArticleTagged(article=story_article("y", 13, source="B"), tags=factories.tags()),
        ArticleTagged(article=story_article("z", 14, source="B"), tags=factories.tags()),
    ]

    failed, *judged = await process.judge_many(batch)

    assert isinstance(failed, RuntimeError) and "kept changing" in str(failed)
    assert [(j.verdict.status, j.verdict.story_id) for j in judged if not isinstance(j, Exception)] == [
        ("unique", "y"),
        ("unique", "z"),
    ]
    # y, x's copy, waited for each of x's rounds.
    assert process.replies == Counter(sent_back=MAX_ATTEMPTS, held=MAX_ATTEMPTS, judged=2)


async def test_outlet_learns_from_its_first_copy_of_each_story_as_in_memory(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """An outlet's first copies of two wire stories, carrying its template block, teach it that
    block (a second copy of the same story does not count again): its stubs are then unique, on
    Redis as in memory."""
    template = tuple(story_sentences(91, sentences=3))

    def event(
        article_id: str, seed: int, source: str, extra: tuple[str, ...], keep: float = 1.0
    ) -> ArticleTagged:
        article = story_article(article_id, seed, keep=keep, source=source)
        article = article.model_copy(update={"body": (*article.body, *extra)})
        return ArticleTagged(article=article, tags=factories.tags())

    def stub(n: int) -> ArticleTagged:
        article = story_article(f"stub{n}", 0, source="A", headline=f"Kurz {n}")
        body = (*story_sentences(40 + n, sentences=1), *template)
        return ArticleTagged(article=article.model_copy(update={"body": body}), tags=factories.tags())

    events = [
        event("w1", 31, "Wire", ()),
        event("a1", 31, "A", template),
        event("a1-again", 31, "A", template, keep=0.9),  # the outlet's rewrite of its copy
        event("w2", 32, "Wire", ()),
        event("a2", 32, "A", template),
        *(stub(n) for n in range(3)),
    ]
    in_memory = Deduplicator(
        NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency()), InMemoryStoryStore(WINDOW)
    )
    on_redis = RedisDeduplicator(redis_client, layout)
    expected = [(await in_memory.judge(e)).verdict for e in events]
    found = [(await on_redis.judge(e)).verdict for e in events]
    assert found == expected
    assert [v.status for v in found] == ["unique", "duplicate", "duplicate", "unique", "duplicate"] + [
        "unique"
    ] * 3
    assert [m.article_id for m in await RedisStoryStore(redis_client, WINDOW).members("w1")] == [
        "w1",
        "a1",
        "a1-again",
    ]


async def test_batch_gives_the_verdicts_of_one_call_per_article(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """judge_many (one pipelined round trip for a read batch) judges the articles in order, each
    against the ones before it, exactly as one judge call per article does."""
    events = [_event(*step) for step in SCENARIO]
    one_by_one = [(await RedisDeduplicator(redis_client, layout).judge(e)).verdict for e in events]
    await redis_client.flushdb()
    batch = await RedisDeduplicator(redis_client, layout).judge_many(events)
    assert [j.verdict for j in batch if not isinstance(j, Exception)] == one_by_one


async def test_judging_sweeps_the_sentence_counts_due(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """The judging script runs the clock-paced sweep of the sentence counts: the hash whose turn it
    is loses its stale counts and keeps the live ones."""
    now = 1_800_000_000
    gen = now // WINDOW
    meta = f"{layout.prefix}meta"
    key = f"{layout.prefix}c:".encode() + shard_name(4_321)
    # One hash due: the clock has moved on by one hash's share of a window since the last sweep.
    await redis_client.hset(meta, mapping={"cc": 4_321, "cu": now - WINDOW / COUNT_HASHES})
    await redis_client.hset(key, mapping={b"st": (gen - 2) * 65536 + 2, b"lv": (gen - 1) * 65536 + 1})

    await RedisDeduplicator(redis_client, layout).judge(_event("a", 1, 1.0, "A", 1), now=now)

    assert await redis_client.hgetall(key) == {b"lv": str((gen - 1) * 65536 + 1).encode()}
    assert int(await redis_client.hget(meta, "cc") or 0) == 4_322


async def test_dedup_warns_when_redis_keeps_long_hashes_compact(redis_client: aioredis.Redis) -> None:
    """With hashes compact up to 128 fields (newswire's Redis) dedup says nothing; a Redis at its own
    default (512) gets a warning at start naming the setting, since the index's cost per article
    would then grow with its size."""
    original = await compact_hash_entries(redis_client)
    try:
        await redis_client.config_set("hash-max-ziplist-entries", COMPACT_HASH_ENTRIES)
        assert await compact_hash_entries(redis_client) == COMPACT_HASH_ENTRIES
        with structlog.testing.capture_logs() as quiet:
            await warn_on_long_compact_hashes(redis_client)
        await redis_client.config_set("hash-max-ziplist-entries", 512)
        with structlog.testing.capture_logs() as logged:
            await warn_on_long_compact_hashes(redis_client)
    finally:
        await redis_client.config_set("hash-max-ziplist-entries", original or COMPACT_HASH_ENTRIES)
    assert quiet == []
    assert [(e["event"], e["hash_max_listpack_entries"]) for e in logged] == [
        ("dedup.redis_hashes_compact_too_long", 512)
    ]


async def test_dedup_loads_its_script_again_after_redis_forgot_it(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) a batch is judged all the same: the script is
    loaded again and its calls sent again, none of them judged twice."""
    process = RedisDeduplicator(redis_client, layout)
    (first,) = await process.judge_many([_event("a", 61, 1.0, "A", 1)])
    await redis_client.script_flush()

    judged = await process.judge_many([_event("b", 61, 0.9, "B", 1), _event("c", 62, 1.0, "A", 1)])

    assert not isinstance(first, Exception) and first.verdict.status == "unique"
    verdicts = [(j.verdict.status, j.verdict.story_id) for j in judged if not isinstance(j, Exception)]
    assert verdicts == [("duplicate", "a"), ("unique", "c")]
    assert process.replies == Counter(judged=3)
