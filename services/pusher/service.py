"""The pusher service: ``articles.unique`` -> topic streams subscribers read."""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from services.pusher.delivery import RedisSubscriberStreams, SubscriberStreams
from services.pusher.routing import topic_entries
from shared.messages import ARTICLES_UNIQUE, ArticleDeduplicated
from shared.settings import Settings
from shared.stage import ConsumerRuntime, StageResult
from shared.status import StatusUpdate

SERVICE = "pusher"


async def push(judged: ArticleDeduplicated, streams: SubscriberStreams) -> StageResult:
    entries = topic_entries(judged)
    added = await streams.deliver_once(judged.article.id, entries)
    topics = [entry.fields["topic"] for entry in entries]
    return StageResult(
        status=StatusUpdate.reached(judged.article.id, "delivered", fields={"topics": ",".join(topics)}),
        outcome="delivered" if added else "already_delivered",
        log={"topics": topics},
    )


def create_app(
    settings: Settings | None = None, *, streams: SubscriberStreams | None = None, **parts: Any
) -> FastStream:
    """Composition root; ``parts`` override the runtime's broker, Redis client or stores."""
    settings = settings or Settings()
    runtime = ConsumerRuntime(SERVICE, settings, **parts)
    chosen = streams or RedisSubscriberStreams(
        runtime.redis,
        retention_seconds=settings.subscriber_retention_hours * 3600,
        marker_seconds=settings.dedup_window_hours * 3600,
    )

    async def on_unique(event: ArticleDeduplicated) -> StageResult:
        return await push(event, chosen)

    runtime.stage(ARTICLES_UNIQUE, ArticleDeduplicated, on_unique)
    return runtime.app()
