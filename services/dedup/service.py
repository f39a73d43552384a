"""The dedup service: ``articles.tagged`` -> verdict -> ``articles.unique`` or ``articles.duplicates``."""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from services.dedup.index import ExactIndex, RedisExactIndex, content_hash, judge
from shared.messages import (
    ARTICLES_DUPLICATES,
    ARTICLES_TAGGED,
    ARTICLES_UNIQUE,
    ArticleDeduplicated,
    ArticleTagged,
)
from shared.ninjs import to_ninjs
from shared.settings import Settings
from shared.stage import ConsumerRuntime, Output, StageResult
from shared.status import StatusUpdate

SERVICE = "dedup"


async def deduplicate(event: ArticleTagged, index: ExactIndex) -> ArticleDeduplicated:
    """Claim the article's content in the index and judge it by who holds it."""
    first_id = await index.claim(content_hash(event.article), event.article.id)
    verdict = judge(event.article.id, first_id)
    return ArticleDeduplicated(article=event.article, tags=event.tags, verdict=verdict)


def result_for(judged: ArticleDeduplicated) -> StageResult:
    article, verdict = judged.article, judged.verdict
    stream = ARTICLES_DUPLICATES if verdict.status == "duplicate" else ARTICLES_UNIQUE
    fields = {"verdict": verdict.status, "story_id": verdict.story_id}
    if verdict.duplicate_of:
        fields["duplicate_of"] = verdict.duplicate_of
    document = to_ninjs(article, judged.tags, verdict)
    return StageResult(
        outputs=(Output(stream, judged, article.id),),
        status=StatusUpdate.reached(article.id, verdict.status, document=document, fields=fields),
        outcome=verdict.status,
        log={"story_id": verdict.story_id, "duplicate_of": verdict.duplicate_of},
    )


def create_app(
    settings: Settings | None = None, *, index: ExactIndex | None = None, **parts: Any
) -> FastStream:
    """Composition root; ``parts`` override the runtime's broker, Redis client or stores."""
    settings = settings or Settings()
    runtime = ConsumerRuntime(SERVICE, settings, **parts)
    chosen = index or RedisExactIndex(runtime.redis, settings.dedup_window_hours * 3600)

    async def on_tagged(event: ArticleTagged) -> StageResult:
        return result_for(await deduplicate(event, chosen))

    runtime.stage(ARTICLES_TAGGED, ArticleTagged, on_tagged, outputs=(ARTICLES_UNIQUE, ARTICLES_DUPLICATES))
    return runtime.app()
