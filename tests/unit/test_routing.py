"""The pusher's routing: which topic streams, and plain fields any Redis client can read."""

from __future__ import annotations

import json

import pytest

from services.pusher.routing import topic_entries
from shared.messages import ArticleDeduplicated
from tests import factories

pytestmark = pytest.mark.unit


def _judged(status: str = "unique") -> ArticleDeduplicated:
    return ArticleDeduplicated(
        article=factories.article(), tags=factories.tags(), verdict=factories.verdict(status)
    )


def test_article_goes_to_all_and_to_each_of_its_topics_once() -> None:
    """One entry on newswire:topic:all, then one per followable topic, in order."""
    streams = [entry.stream for entry in topic_entries(_judged())]
    assert streams == ["newswire:topic:all", "newswire:topic:politics", "newswire:topic:place:KZ"]


def test_entries_are_plain_fields_with_the_ninjs_article() -> None:
    """Fields are exactly id, event, topic, article; article is ninjs JSON."""
    entry = topic_entries(_judged())[1]
    assert list(entry.fields) == ["id", "event", "topic", "article"]
    assert entry.fields["event"] == "article.published"
    assert entry.fields["topic"] == "politics"
    assert json.loads(entry.fields["article"])["uri"] == "urn:newswire:article:01TESTARTICLE"


def test_an_update_is_announced_as_such() -> None:
    """A verdict of 'update' is published with event article.updated."""
    assert topic_entries(_judged("update"))[0].fields["event"] == "article.updated"
