"""The tagger service: ``articles.received`` -> tag -> ``articles.tagged``."""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from services.tagger.tagging import Tagger, TaggerConfig
from shared.messages import ARTICLES_RECEIVED, ARTICLES_TAGGED, ArticleReceived, ArticleTagged
from shared.ninjs import to_ninjs
from shared.settings import Settings
from shared.stage import ConsumerRuntime, Output, StageResult
from shared.status import StatusUpdate

SERVICE = "tagger"


def tag_received(event: ArticleReceived, tagger: Tagger) -> ArticleTagged:
    """The stage's one pure step: the article and its tags."""
    return ArticleTagged(article=event.article, tags=tagger.tag(event.article))


def build_tagger(settings: Settings) -> Tagger:
    return Tagger(TaggerConfig(languages=settings.languages) if settings.languages else None)


def create_app(settings: Settings | None = None, *, tagger: Tagger | None = None, **parts: Any) -> FastStream:
    """Composition root; ``parts`` override the runtime's broker, Redis client or stores."""
    settings = settings or Settings()
    tagger = tagger or build_tagger(settings)
    runtime = ConsumerRuntime(SERVICE, settings, **parts)

    async def on_received(event: ArticleReceived) -> StageResult:
        tagged = tag_received(event, tagger)
        article, tags = tagged.article, tagged.tags
        return StageResult(
            outputs=(Output(ARTICLES_TAGGED, tagged, article.id),),
            status=StatusUpdate.reached(
                article.id, "tagged", document=to_ninjs(article, tags), version=article.version
            ),
            outcome="tagged",
            log={"language": tags.language, "topics": list(tags.topics)},
        )

    runtime.stage(ARTICLES_RECEIVED, ArticleReceived, on_received, outputs=(ARTICLES_TAGGED,))
    return runtime.app()
