"""The dedup verdict (unique, duplicate, update) and the story store it records into."""

from __future__ import annotations

import time

import pytest

from services.dedup.near import InMemoryNearIndex, InMemorySentenceFrequency, Match, NearDuplicateDetector
from services.dedup.stories import InMemoryStoryStore, StoryMember, first_member
from services.dedup.verdict import Deduplicator, decide
from shared.messages import ArticleTagged
from tests import factories
from tests.story_texts import story_article

pytestmark = pytest.mark.unit

NEAR = Match("head", "near", 0.6, 0.9)
EXACT = Match("head", "exact", 1.0, 1.0)


def test_no_match_is_unique_and_starts_its_own_story() -> None:
    """An article the index matched to nothing is unique, named as its own story."""
    verdict = decide(factories.article("a1"), None)
    assert (verdict.status, verdict.story_id, verdict.duplicate_of) == ("unique", "a1", None)


def test_copy_from_another_outlet_is_a_duplicate_of_the_first() -> None:
    """A near copy whose story began at another outlet is a duplicate of that first article."""
    verdict = decide(factories.article("a2", source="Outlet B"), NEAR, head_source="Outlet A")
    assert (verdict.status, verdict.story_id, verdict.duplicate_of) == ("duplicate", "head", "head")


def test_changed_text_from_the_first_outlet_is_an_update() -> None:
    """A near copy from the outlet that published the story first is an update of the story."""
    verdict = decide(factories.article("a2", source="Outlet A"), NEAR, head_source="Outlet A")
    assert (verdict.status, verdict.story_id, verdict.duplicate_of) == ("update", "head", None)


def test_site_name_is_the_outlet_when_there_is_one() -> None:
    """The outlet compared is the page's site name before the submitting source."""
    article = factories.article("a2", source="Feed X", site_name="Outlet A")
    assert decide(article, NEAR, head_source="Outlet A").status == "update"


@pytest.mark.parametrize(
    ("match", "source", "head_source"),
    [(EXACT, "Outlet A", "Outlet A"), (NEAR, "Outlet A", None), (NEAR, None, None)],
    ids=["same text again", "first outlet unknown", "no outlet at all"],
)
def test_anything_else_matched_is_a_duplicate(
    match: Match, source: str | None, head_source: str | None
) -> None:
    """The same text from the same outlet is a resubmission; an outlet that cannot be compared
    (unknown either side) never makes an update: each is a duplicate."""
    article = factories.article("a2", source=source, site_name=None, outlet_code=None)
    assert decide(article, match, head_source=head_source).status == "duplicate"


def test_new_version_is_an_update_of_its_story() -> None:
    """Version 2 of an article (same guid, changed content) updates the story it belonged to,
    else the story the index matched, else its own."""
    article = factories.article("a1", version=2)
    assert decide(article, None, previous_story="s0").story_id == "s0"
    assert decide(article, NEAR).story_id == "head"
    verdict = decide(article, None)
    assert (verdict.status, verdict.story_id) == ("update", "a1")


def _deduplicator() -> Deduplicator:
    detector = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency())
    return Deduplicator(detector, InMemoryStoryStore(3600))


async def _judge(deduplicator: Deduplicator, **article: object) -> tuple[str, str, str | None]:
    event = ArticleTagged(article=story_article(**article), tags=factories.tags())  # type: ignore[arg-type]  # keyword test data
    verdict = (await deduplicator.judge(event)).verdict
    return verdict.status, verdict.story_id, verdict.duplicate_of


async def test_story_of_several_outlets_and_versions() -> None:
    """First copy unique; a cut copy from another outlet duplicate; a cut rewrite from the first
    outlet an update; version 2 of the duplicate an update of the story; another story unique;
    the story store lists every member in order with its outlet and verdict."""
    dedup = _deduplicator()
    assert await _judge(dedup, article_id="a", seed=1, source="A") == ("unique", "a", None)
    assert await _judge(dedup, article_id="b", seed=1, keep=0.5, source="B") == ("duplicate", "a", "a")
    assert await _judge(dedup, article_id="c", seed=1, keep=0.7, source="A") == ("update", "a", None)
    assert await _judge(dedup, article_id="b", seed=1, keep=0.6, source="B", version=2) == (
        "update",
        "a",
        None,
    )
    assert await _judge(dedup, article_id="d", seed=2, source="A") == ("unique", "d", None)
    members = await dedup.stories.members("a")
    assert [(m.article_id, m.version, m.source, m.verdict) for m in members] == [
        ("a", 1, "A", "unique"),
        ("b", 1, "B", "duplicate"),
        ("c", 1, "A", "update"),
        ("b", 2, "B", "update"),
    ]
    assert await dedup.stories.story_of("d") == "d"


async def test_third_rewrite_of_an_outlets_own_story_is_an_update() -> None:
    """An outlet's rewrites of its own story stay updates of it, however many: its first two
    articles of the story do not make the story's sentences look like the outlet's template."""
    dedup = _deduplicator()
    assert await _judge(dedup, article_id="a", seed=6, source="A") == ("unique", "a", None)
    for n, keep in enumerate((0.9, 0.8, 0.7, 0.6)):
        assert await _judge(dedup, article_id=f"r{n}", seed=6, keep=keep, source="A") == ("update", "a", None)


async def test_redelivered_messages_get_the_same_verdicts() -> None:
    """At-least-once delivery: judging each message twice changes no verdict and no member."""
    dedup = _deduplicator()
    copies = (("a", 1.0, "A"), ("b", 0.7, "A"), ("c", 0.8, "C"))
    first = [await _judge(dedup, article_id=i, seed=3, keep=k, source=s) for i, k, s in copies]
    again = [await _judge(dedup, article_id=i, seed=3, keep=k, source=s) for i, k, s in copies]
    assert first == again == [("unique", "a", None), ("update", "a", None), ("duplicate", "a", "a")]
    assert len(await dedup.stories.members("a")) == 3


async def test_copy_judged_before_the_first_is_recorded_is_a_duplicate() -> None:
    """If the first article's record is not in the story store yet (another replica is between its
    index insert and its record), a same-outlet copy is called a duplicate: never published twice."""
    dedup = _deduplicator()
    await dedup.detector.check_article(story_article("a", 4, source="A"))  # indexed, not recorded
    assert await _judge(dedup, article_id="b", seed=4, keep=0.7, source="A") == ("duplicate", "a", "a")


async def test_in_memory_story_store_forgets_members_after_the_window() -> None:
    """Members older than the window are gone, and with them the article's story."""
    stories = InMemoryStoryStore(window_seconds=60)
    await stories.add("s", StoryMember("old", 1, "A", "unique", time.time() - 120))
    await stories.add("s", StoryMember("new", 1, "B", "duplicate", time.time()))
    assert [m.article_id for m in await stories.members("s")] == ["new"]
    assert await stories.story_of("old") is None and await stories.story_of("new") == "s"


def test_first_member_is_the_earliest_version_of_the_article() -> None:
    """The story's first article is found by id, at its lowest version."""
    members = [StoryMember("x", 2, "A", "update", 3.0), StoryMember("x", 1, "A", "unique", 1.0)]
    assert first_member(members, "x") == members[1]
    assert first_member(members, "y") is None
