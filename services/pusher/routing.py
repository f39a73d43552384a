"""Which subscriber streams an article goes to, and the plain fields it carries there.

Topic streams (``newswire:topic:<slug>``) and subscription streams (``newswire:sub:<name>``)
carry the same four plain fields; on a subscription stream ``topic`` is the subscription's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.messages import (
    ALL_TOPIC,
    EVENT_PUBLISHED,
    EVENT_UPDATED,
    ArticleDeduplicated,
    SubscriberEntry,
    topic_stream,
)
from shared.ninjs import document_json, to_ninjs
from shared.subscriptions import Subscription


@dataclass(frozen=True)
class StreamEntry:
    stream: str
    fields: dict[str, str]


def _entries(judged: ArticleDeduplicated, document: str, streams: dict[str, str]) -> tuple[StreamEntry, ...]:
    """The article's entry on each stream (stream -> its ``topic`` field): the entry is checked
    against the contract once, the streams differ only in ``topic``."""
    fields = SubscriberEntry.model_validate(
        {"id": judged.article.id, "event": event_name(judged), "topic": ALL_TOPIC, "article": document}
    ).fields()
    return tuple(StreamEntry(stream, {**fields, "topic": topic}) for stream, topic in streams.items())


def event_name(judged: ArticleDeduplicated) -> str:
    return EVENT_UPDATED if judged.verdict.status == "update" else EVENT_PUBLISHED


def article_json(judged: ArticleDeduplicated) -> str:
    return document_json(to_ninjs(judged.article, judged.tags, judged.verdict))


def topic_entries(judged: ArticleDeduplicated, document: str | None = None) -> tuple[StreamEntry, ...]:
    """One entry on ``newswire:topic:all`` and one per followable topic of the article."""
    document = document if document is not None else article_json(judged)
    topics = dict.fromkeys((ALL_TOPIC, *judged.tags.topics))  # ordered, no repeats
    return _entries(judged, document, {topic_stream(topic): topic for topic in topics})


def subscription_entries(
    judged: ArticleDeduplicated, subscriptions: tuple[Subscription, ...], document: str | None = None
) -> tuple[StreamEntry, ...]:
    """One entry on the stream of each subscription given (those whose filter matched)."""
    document = document if document is not None else article_json(judged)
    return _entries(judged, document, {sub.stream: sub.name for sub in subscriptions})
