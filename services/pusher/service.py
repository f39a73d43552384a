"""The pusher service: ``articles.unique`` -> topic streams and subscription streams, and webhooks.

The webhook dispatcher runs in this process beside the stage (see ``webhooks.py`` for why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream import FastStream

from services.pusher.catalog import SubscriptionCatalog
from services.pusher.delivery import Delivery, RedisSubscriberStreams, SubscriberStreams
from services.pusher.filters import matching_subscriptions
from services.pusher.routing import article_json, subscription_entries, topic_entries
from shared.messages import ARTICLES_UNIQUE, SUBSCRIPTION_STREAM_PREFIX, ArticleDeduplicated
from shared.metrics import StageMetrics
from shared.settings import Settings
from shared.stage import ConsumerRuntime, StageResult
from shared.status import StatusUpdate
from shared.subscriptions import (
    InMemorySubscriptionStore,
    RedisSubscriptionStore,
    Subscription,
    SubscriptionStore,
)

SERVICE = "pusher"


async def push_many(
    batch: Sequence[ArticleDeduplicated],
    streams: SubscriberStreams,
    catalog: SubscriptionCatalog | None = None,
    metrics: StageMetrics | None = None,
) -> list[StageResult]:
    """Deliver each article to its topic streams and the subscriptions it matches, exactly once;
    ``metrics`` counts the deliveries per subscription."""
    subscriptions = await catalog.current() if catalog else ()
    deliveries: list[Delivery] = []
    matches: list[tuple[Subscription, ...]] = []
    for judged in batch:
        document = article_json(judged)
        matched = tuple(matching_subscriptions(subscriptions, judged))
        entries = (*topic_entries(judged, document), *subscription_entries(judged, matched, document))
        deliveries.append(Delivery(judged.article.id, entries, judged.article.version))
        matches.append(matched)
    added = await streams.deliver_many(deliveries)
    if metrics is not None:
        for matched, now_added in zip(matches, added, strict=True):
            for subscription in matched if now_added else ():
                metrics.delivered_to(subscription.name)
    return [
        _result(judged, delivery, matched, now_added)
        for judged, delivery, matched, now_added in zip(batch, deliveries, matches, added, strict=True)
    ]


async def push(
    judged: ArticleDeduplicated,
    streams: SubscriberStreams,
    catalog: SubscriptionCatalog | None = None,
    metrics: StageMetrics | None = None,
) -> StageResult:
    """One article (see ``push_many``)."""
    return (await push_many([judged], streams, catalog, metrics))[0]


def _result(
    judged: ArticleDeduplicated, delivery: Delivery, matched: tuple[Subscription, ...], added: bool
) -> StageResult:
    article = judged.article
    topics = [
        entry.fields["topic"]
        for entry in delivery.entries
        if not entry.stream.startswith(SUBSCRIPTION_STREAM_PREFIX)
    ]
    return StageResult(
        status=StatusUpdate.reached(
            article.id, "delivered", fields={"topics": ",".join(topics)}, version=article.version
        ),
        outcome="delivered" if added else "already_delivered",
        log={"topics": topics, "subscriptions": [sub.name for sub in matched]},
    )


def create_app(
    settings: Settings | None = None,
    *,
    streams: SubscriberStreams | None = None,
    subscriptions: SubscriptionStore | None = None,
    webhooks: bool | None = None,
    **parts: Any,
) -> FastStream:
    """Composition root; ``parts`` override the runtime's broker, Redis client or stores.

    ``webhooks``: run the webhook dispatcher (default: when the subscriptions are in Redis).
    """
    settings = settings or Settings()
    runtime = ConsumerRuntime(SERVICE, settings, **parts)
    chosen = streams or RedisSubscriberStreams(
        runtime.redis,
        retention_seconds=settings.subscriber_retention_hours * 3600,
        marker_seconds=settings.dedup_window_hours * 3600,
    )
    if subscriptions is None:
        in_memory = streams is not None and not isinstance(streams, RedisSubscriberStreams)
        subscriptions = InMemorySubscriptionStore() if in_memory else RedisSubscriptionStore(runtime.redis)
    catalog = SubscriptionCatalog(subscriptions)

    async def on_unique(batch: Sequence[ArticleDeduplicated]) -> list[StageResult]:
        return await push_many(batch, chosen, catalog, runtime.metrics)

    # In batches: the subscriptions are looked up once and the deliveries pipelined per read.
    runtime.stage(ARTICLES_UNIQUE, ArticleDeduplicated, batch_handler=on_unique)
    app = runtime.app()
    if webhooks if webhooks is not None else isinstance(subscriptions, RedisSubscriptionStore):
        from services.pusher.webhooks import WebhookDispatcher

        dispatcher = WebhookDispatcher(
            runtime.redis, subscriptions, settings, runtime.consumer, metrics=runtime.metrics
        )
        app.after_startup(dispatcher.start)
        app.on_shutdown(dispatcher.stop)
    return app
