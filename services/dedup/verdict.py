"""The verdict on an article: unique, duplicate of a story's first article, or update of a story.

``decide`` is the rule, a pure function of what the index and the story store said:

* a new version of an article (intake gave the same id, ``version > 1``: same guid and source,
  changed content) is an ``update`` of the story the article belongs to;
* an article the index matched to no earlier one is ``unique``: it starts a story named after it;
* a near copy of a story whose first article came from the *same outlet* is that outlet's
  rewrite of its own story: an ``update`` (subscribers get it as ``article.updated``);
* anything else the index matched is a ``duplicate`` of the story's first article (an exact
  copy from the same outlet is a resubmission, not news either).

``Deduplicator`` does the I/O around the rule: the detector's atomic check-and-insert, the look-ups
in the story store, and the record of the new member. A message delivered again (at-least-once)
whose (article id, version) the store already holds gets the recorded verdict back.
"""

from __future__ import annotations

import time

from services.dedup.near import Match, NearDuplicateDetector, outlet_of
from services.dedup.stories import StoryMember, StoryStore, first_member
from shared.messages import Article, ArticleDeduplicated, ArticleTagged, Verdict


def decide(
    article: Article,
    match: Match | None,
    *,
    head_source: str | None = None,
    previous_story: str | None = None,
) -> Verdict:
    """The verdict on ``article``.

    ``match``: the indexed article it copies (a story's first article), if any; ``head_source``:
    the outlet of that first article, if known; ``previous_story``: the story an earlier version
    of this article id belongs to, if known.
    """
    if match is not None and match.article_id == article.id:
        match = None  # an index never matches an article to itself; be safe if one did
    if article.version > 1:
        story = previous_story or (match.article_id if match else article.id)
        return Verdict(status="update", story_id=story)
    if match is None:
        return Verdict(status="unique", story_id=article.id)
    outlet = outlet_of(article)
    if match.kind == "near" and outlet is not None and outlet == head_source:
        return Verdict(status="update", story_id=match.article_id)
    return Verdict(status="duplicate", story_id=match.article_id, duplicate_of=match.article_id)


def recorded_verdict(story_id: str, member: StoryMember) -> Verdict:
    """The verdict a story member was recorded with."""
    duplicate_of = story_id if member.verdict == "duplicate" else None
    return Verdict(status=member.verdict, story_id=story_id, duplicate_of=duplicate_of)


def needs_head_source(article: Article, match: Match | None) -> bool:
    """Whether ``decide`` could use the first article's outlet (saves a look-up otherwise)."""
    return article.version == 1 and match is not None and match.kind == "near" and bool(outlet_of(article))


class Deduplicator:
    """Detector + story store: judges one tagged article and records it in its story."""

    def __init__(self, detector: NearDuplicateDetector, stories: StoryStore) -> None:
        self.detector = detector
        self.stories = stories

    async def judge(self, event: ArticleTagged) -> ArticleDeduplicated:
        article = event.article
        recorded = await self.stories.judged(article.id, article.version)
        if recorded is not None:
            return ArticleDeduplicated(article=article, tags=event.tags, verdict=recorded_verdict(*recorded))
        match = await self.detector.check_article(article)
        head_source = None
        if match is not None and needs_head_source(article, match):
            # The first article's record is written right after its own verdict: a copy judged in
            # that instant finds none and is called a duplicate, the choice that never publishes twice.
            head = first_member(await self.stories.members(match.article_id), match.article_id)
            head_source = head.source if head else None
        previous = await self.stories.story_of(article.id) if article.version > 1 else None
        verdict = decide(article, match, head_source=head_source, previous_story=previous)
        member = StoryMember(article.id, article.version, outlet_of(article), verdict.status, time.time())
        await self.stories.add(verdict.story_id, member)
        return ArticleDeduplicated(article=article, tags=event.tags, verdict=verdict)
