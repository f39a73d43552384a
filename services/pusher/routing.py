"""Which subscriber streams an article goes to, and the plain fields it carries there."""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared.messages import (
    ALL_TOPIC,
    EVENT_PUBLISHED,
    EVENT_UPDATED,
    ArticleDeduplicated,
    topic_stream,
)
from shared.ninjs import to_ninjs


@dataclass(frozen=True)
class StreamEntry:
    stream: str
    fields: dict[str, str]


def event_name(judged: ArticleDeduplicated) -> str:
    return EVENT_UPDATED if judged.verdict.status == "update" else EVENT_PUBLISHED


def topic_entries(judged: ArticleDeduplicated) -> tuple[StreamEntry, ...]:
    """One entry on ``newswire:topic:all`` and one per followable topic of the article."""
    article_json = json.dumps(to_ninjs(judged.article, judged.tags, judged.verdict), ensure_ascii=False)
    event = event_name(judged)
    topics = dict.fromkeys((ALL_TOPIC, *judged.tags.topics))  # ordered, no repeats
    return tuple(
        StreamEntry(
            topic_stream(topic),
            {"id": judged.article.id, "event": event, "topic": topic, "article": article_json},
        )
        for topic in topics
    )
