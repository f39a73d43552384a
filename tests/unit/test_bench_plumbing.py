"""The benchmark's dedup plumbing: dedup's outputs without dedup's work."""

from __future__ import annotations

import pytest

from bench.plumbing import unjudged
from shared.messages import ARTICLES_UNIQUE, ArticleDeduplicated, ArticleTagged
from tests import factories

pytestmark = pytest.mark.unit


def test_every_article_is_published_as_a_story_of_its_own() -> None:
    """Each article goes to articles.unique, unique and its own story, with its tags, as dedup
    publishes a new story; its status record and log line say so."""
    events = [ArticleTagged(article=factories.article(f"a{n}"), tags=factories.tags()) for n in range(3)]

    results = unjudged(events)

    for event, result in zip(events, results, strict=True):
        assert not isinstance(result, Exception)
        (output,) = result.outputs
        assert (output.stream, output.article_id) == (ARTICLES_UNIQUE, event.article.id)
        assert isinstance(output.event, ArticleDeduplicated)
        assert (output.event.article, output.event.tags) == (event.article, event.tags)
        assert (output.event.verdict.status, output.event.verdict.story_id) == ("unique", event.article.id)
        assert result.outcome == "unique"
        assert result.status is not None and result.status.fields["story_id"] == event.article.id
