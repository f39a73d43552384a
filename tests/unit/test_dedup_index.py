"""Exact duplicates: the content hash and the verdict."""

from __future__ import annotations

import pytest

from services.dedup.index import InMemoryExactIndex, content_hash, judge
from tests import factories

pytestmark = pytest.mark.unit


def test_hash_ignores_case_spacing_and_punctuation() -> None:
    """Re-spaced, re-cased, re-punctuated copies of one text hash the same."""
    original = factories.article()
    respaced = factories.article(
        "other",
        headline="  putin WILL bei Besuch in Kasachstan, Beziehungen festigen! ",
        body=tuple(p.replace(" ", "  ") for p in original.body),
    )
    assert content_hash(original) == content_hash(respaced)


def test_hash_differs_when_a_word_differs() -> None:
    """A changed word changes the exact hash."""
    changed = factories.article(headline="Putin will bei Besuch in Usbekistan Beziehungen festigen")
    assert content_hash(changed) != content_hash(factories.article())


def test_metadata_does_not_change_the_hash() -> None:
    """Source, authors and teasers are not content: a republication hashes the same."""
    republished = factories.article("b", source="Other Outlet", authors=("K. Lindqvist",), related=())
    assert content_hash(republished) == content_hash(factories.article())


async def test_first_claimant_is_unique_and_later_ones_duplicates() -> None:
    """The first article holding a hash wins; the next is its duplicate; a retry still wins."""
    index = InMemoryExactIndex()
    assert judge("a", await index.claim("h", "a")).status == "unique"
    second = judge("b", await index.claim("h", "b"))
    assert (second.status, second.duplicate_of, second.story_id) == ("duplicate", "a", "a")
    assert judge("a", await index.claim("h", "a")).status == "unique"
