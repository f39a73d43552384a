"""The tagger service: ``articles.received`` -> tag -> ``articles.tagged``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream import FastStream

from services.tagger.tagging import TAG_CHUNK, Tagger, TaggerConfig
from shared.messages import ARTICLES_RECEIVED, ARTICLES_TAGGED, Article, ArticleReceived, ArticleTagged, Tags
from shared.ninjs import to_ninjs
from shared.settings import Settings
from shared.stage import ConsumerRuntime, Output, StageResult
from shared.status import StatusUpdate

SERVICE = "tagger"


def tag_received(event: ArticleReceived, tagger: Tagger) -> ArticleTagged:
    """The stage's one pure step: the article and its tags."""
    return ArticleTagged(article=event.article, tags=tagger.tag(event.article))


def tag_many_received(events: Sequence[ArticleReceived], tagger: Tagger) -> list[ArticleTagged | Exception]:
    """``tag_received`` of each event, the recogniser reading them in one pass; when that fails, each
    is tagged on its own, so one bad article fails alone (its exception in its place)."""
    articles = [event.article for event in events]
    try:
        tags: list[Tags | Exception] = list(tagger.tag_many(articles))
    except Exception:
        tags = [_tag_or_error(tagger, article) for article in articles]
    return [
        found if isinstance(found, Exception) else ArticleTagged(article=article, tags=found)
        for article, found in zip(articles, tags, strict=True)
    ]


def _tag_or_error(tagger: Tagger, article: Article) -> Tags | Exception:
    try:
        return tagger.tag(article)
    except Exception as error:
        return error


def result_for(tagged: ArticleTagged) -> StageResult:
    """The tagged article goes on to dedup; its status record gets the ninjs document with tags."""
    article, tags = tagged.article, tagged.tags
    return StageResult(
        outputs=(Output(ARTICLES_TAGGED, tagged, article.id),),
        status=StatusUpdate.reached(
            article.id, "tagged", document=to_ninjs(article, tags), version=article.version
        ),
        outcome="tagged",
        log={"language": tags.language, "topics": list(tags.topics)},
    )


def build_tagger(settings: Settings) -> Tagger:
    return Tagger(TaggerConfig(languages=settings.languages) if settings.languages else None)


def create_app(settings: Settings | None = None, *, tagger: Tagger | None = None, **parts: Any) -> FastStream:
    """Composition root; ``parts`` override the runtime's broker, Redis client or stores."""
    settings = settings or Settings()
    tagger = tagger or build_tagger(settings)
    runtime = ConsumerRuntime(SERVICE, settings, **parts)

    async def on_batch(events: Sequence[ArticleReceived]) -> list[StageResult | Exception]:
        results: list[StageResult | Exception] = []
        for start in range(0, len(events), TAG_CHUNK):
            tagged = tag_many_received(events[start : start + TAG_CHUNK], tagger)
            results += [found if isinstance(found, Exception) else result_for(found) for found in tagged]
            # Tagging is pure CPU: let the heartbeat, the metrics and a stop in between chunks.
            await asyncio.sleep(0)
        return results

    runtime.stage(ARTICLES_RECEIVED, ArticleReceived, batch_handler=on_batch, outputs=(ARTICLES_TAGGED,))
    return runtime.app()
