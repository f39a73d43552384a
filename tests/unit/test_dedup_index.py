"""Exact duplicates through the near-duplicate detector: the content hash path and the verdict."""

from __future__ import annotations

import pytest

from services.dedup.near import InMemoryNearIndex, NearDuplicateDetector
from services.dedup.verdict import decide
from tests import factories

pytestmark = pytest.mark.unit


def _detector() -> NearDuplicateDetector:
    return NearDuplicateDetector(InMemoryNearIndex())


async def test_respaced_recased_repunctuated_copy_is_an_exact_match() -> None:
    """Case, spacing and punctuation do not make a text new: the copy matches the first exactly."""
    detector = _detector()
    original = factories.article("a")
    respaced = factories.article(
        "b",
        headline="  putin WILL bei Besuch in Kasachstan, Beziehungen festigen! ",
        body=tuple(p.replace(" ", "  ") for p in original.body),
    )
    assert await detector.check_article(original) is None
    match = await detector.check_article(respaced)
    assert match is not None and (match.article_id, match.kind) == ("a", "exact")


async def test_metadata_does_not_change_the_match() -> None:
    """Source, authors and teasers are not content: a republication is a duplicate of the first."""
    detector = _detector()
    assert await detector.check_article(factories.article("a")) is None
    republished = factories.article("b", source="Other Outlet", authors=("K. Lindqvist",), related=())
    match = await detector.check_article(republished)
    verdict = decide(republished, match, head_source="Deutsche Tageszeitung")
    assert (verdict.status, verdict.duplicate_of, verdict.story_id) == ("duplicate", "a", "a")


async def test_first_article_is_unique_and_stays_unique_on_redelivery() -> None:
    """The first article of a text is unique; its retried message is unique again, a copy is not."""
    detector = _detector()
    first = factories.article("a")
    assert decide(first, await detector.check_article(first)).status == "unique"
    assert decide(first, await detector.check_article(first)).status == "unique"
    copy = factories.article("b")
    assert decide(copy, await detector.check_article(copy)).status == "duplicate"
