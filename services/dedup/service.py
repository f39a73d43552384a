"""The dedup service: ``articles.tagged`` -> verdict -> ``articles.unique`` or ``articles.duplicates``.

The near-duplicate index, the per-outlet sentence counts and the story store live in Redis, shared
by every replica; one script per article checks, inserts, counts and records atomically
(``services.dedup.redis_dedup``), so two replicas never both call copies of one story unique.
Unique articles and updates go on to the pusher; duplicates go to audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from faststream import FastStream

from services.dedup.near import NearDuplicateDetector
from services.dedup.redis_dedup import RedisDeduplicator
from services.dedup.redis_near import (
    RedisLayout,
    RedisNearIndex,
    RedisSentenceFrequency,
    compact_hash_entries,
)
from services.dedup.stories import RedisStoryStore, StoryStore
from services.dedup.verdict import Deduplicator
from shared.embedded_redis import COMPACT_HASH_ENTRIES
from shared.messages import (
    ARTICLES_DUPLICATES,
    ARTICLES_TAGGED,
    ARTICLES_UNIQUE,
    ArticleDeduplicated,
    ArticleTagged,
)
from shared.settings import Settings
from shared.stage import ConsumerRuntime, Output, StageResult
from shared.status import StatusUpdate

SERVICE = "dedup"

log = structlog.stdlib.get_logger("newswire.dedup")


def result_for(judged: ArticleDeduplicated) -> StageResult:
    """Where a judged article goes, and what its status record says."""
    article, verdict = judged.article, judged.verdict
    stream = ARTICLES_DUPLICATES if verdict.status == "duplicate" else ARTICLES_UNIQUE
    fields = {"verdict": verdict.status, "story_id": verdict.story_id}
    if verdict.duplicate_of:
        fields["duplicate_of"] = verdict.duplicate_of
    # No document: the tagger's stands, and the status record's reader adds the story id to it
    # (one 5 KB document less to build, send and store per article).
    return StageResult(
        # The tagged article as it came, with the verdict added: not encoded again.
        outputs=(Output(stream, judged, article.id, adds_to_input={"verdict": verdict}),),
        status=StatusUpdate.reached(article.id, verdict.status, fields=fields, version=article.version),
        outcome=verdict.status,
        log={"story_id": verdict.story_id, "duplicate_of": verdict.duplicate_of, "version": article.version},
    )


async def warn_on_long_compact_hashes(client: aioredis.Redis) -> None:
    """Tell ops when Redis keeps hashes compact past ``COMPACT_HASH_ENTRIES`` fields: the index's
    cost per article then grows with its size (docs/operations.md, "Redis configuration")."""
    limit = await compact_hash_entries(client)
    if limit is not None and limit > COMPACT_HASH_ENTRIES:
        log.warning(
            "dedup.redis_hashes_compact_too_long",
            hash_max_listpack_entries=limit,
            recommended=COMPACT_HASH_ENTRIES,
            effect="dedup's Redis CPU per article grows with the index (~2.3x at 1,000,000 with 512)",
        )


def redis_detector(client: aioredis.Redis, window_seconds: int) -> NearDuplicateDetector:
    """The detector on a shared Redis: index and per-outlet sentence counts over one window."""
    layout = RedisLayout(window_seconds=window_seconds)
    return NearDuplicateDetector(RedisNearIndex(client, layout), RedisSentenceFrequency(client, layout))


def create_app(
    settings: Settings | None = None,
    *,
    detector: NearDuplicateDetector | None = None,
    stories: StoryStore | None = None,
    **parts: Any,
) -> FastStream:
    """Composition root; ``detector``/``stories`` replace the Redis ones (tests), ``parts`` override
    the runtime's broker, Redis client or stores. Without replacements the stage judges a read
    batch with one script call per article, pipelined (``RedisDeduplicator.judge_many``)."""
    settings = settings or Settings()
    runtime = ConsumerRuntime(SERVICE, settings, **parts)
    window = int(settings.dedup_window_hours * 3600)
    if detector is None and stories is None:
        on_redis = RedisDeduplicator(
            runtime.redis, RedisLayout(window_seconds=window), on_reply=runtime.metrics.dedup_replied
        )

        async def on_batch(events: Sequence[ArticleTagged]) -> list[StageResult | Exception]:
            judged = await on_redis.judge_many(events)
            return [j if isinstance(j, Exception) else result_for(j) for j in judged]

        # A read batch's scripts go in one round trip.
        runtime.stage(
            ARTICLES_TAGGED,
            ArticleTagged,
            batch_handler=on_batch,
            outputs=(ARTICLES_UNIQUE, ARTICLES_DUPLICATES),
            readers=settings.dedup_readers,
        )
        app = runtime.app()

        @app.after_startup
        async def check_redis_hashes() -> None:
            await warn_on_long_compact_hashes(runtime.redis)

        return app
    deduplicator = Deduplicator(
        detector or redis_detector(runtime.redis, window),
        stories or RedisStoryStore(runtime.redis, window),
    )

    async def on_tagged(event: ArticleTagged) -> StageResult:
        return result_for(await deduplicator.judge(event))

    runtime.stage(ARTICLES_TAGGED, ArticleTagged, on_tagged, outputs=(ARTICLES_UNIQUE, ARTICLES_DUPLICATES))
    return runtime.app()
