"""Dedup's stage plumbing alone, for ``make bench``: a consumer of ``articles.tagged`` that judges nothing.

Every article goes to ``articles.unique`` as a story of its own, through the same ``Stage`` as the
dedup service (decoding ``ArticleTagged``, publishing ``ArticleDeduplicated``, the status record,
the canonical log line, the ack) and with dedup's readers. What it drains is what one process can
do before dedup's own work (fingerprints, the index script) costs anything.

``python -m bench.plumbing`` (settings from ``NEWSWIRE_*``, as a service; a service name after it, as
devstack passes one, is ignored).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from faststream import FastStream

from services.dedup.service import SERVICE, result_for
from shared.collector import tune_collector
from shared.logging import configure_logging
from shared.messages import ARTICLES_TAGGED, ARTICLES_UNIQUE, ArticleDeduplicated, ArticleTagged, Verdict
from shared.settings import Settings
from shared.stage import ConsumerRuntime, StageResult


def unjudged(events: Sequence[ArticleTagged]) -> list[StageResult | Exception]:
    """Dedup's results for ``events`` as if every article were a new story."""
    return [
        result_for(
            ArticleDeduplicated(
                article=event.article,
                tags=event.tags,
                verdict=Verdict(status="unique", story_id=event.article.id),
            )
        )
        for event in events
    ]


def create_app(settings: Settings | None = None) -> FastStream:
    """The dedup service's stage with ``unjudged`` as its batch handler."""
    settings = settings or Settings()
    runtime = ConsumerRuntime(SERVICE, settings)

    async def on_batch(events: Sequence[ArticleTagged]) -> list[StageResult | Exception]:
        return unjudged(events)

    runtime.stage(
        ARTICLES_TAGGED,
        ArticleTagged,
        batch_handler=on_batch,
        outputs=(ARTICLES_UNIQUE,),
        readers=settings.dedup_readers,
    )
    return runtime.app()


def main() -> int:
    settings = Settings()
    configure_logging(SERVICE, level=settings.log_level, log_format=settings.log_format)
    app = create_app(settings)
    tune_collector(settings.gc_threshold)  # as services.cli does for the service
    asyncio.run(app.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
