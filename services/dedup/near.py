"""Near-duplicate matching: the decision rule, the index contract and an in-memory index.

An index answers one question atomically: "is this article a copy of one already indexed? If not,
remember it". Only *unique* articles are indexed, so every copy of a story points at the first
copy seen (the earliest matching article), and copies never pile up in the index.

Candidates come from the fingerprint's anchors (its smallest shingle hashes); each candidate is
then judged on its stored sketch: a copy if the estimated Jaccard similarity or the containment
(share of the shorter text found in the other one) reaches a threshold. Containment is what
accepts a copy cut to half its length; the thresholds come from ``evaluation/dedup.py``.

Learnt boilerplate: a ``SentenceFrequency`` counts, per outlet, in how many of its stories each
sentence occurs. A sentence one outlet has already printed in several of its other stories (its
teaser block, a legal notice, a standard footer) is template, not story: ``NearDuplicateDetector``
leaves it out of the fingerprint. Counting per outlet keeps a wire story, which each outlet prints
once, from ever looking like template, however many outlets carry it. Counting an article only when
it is its outlet's *first* article in its story (a unique article, or the outlet's first copy of
another outlet's story) keeps an outlet's rewrites of a story from making that story's sentences
look like its template, which would make its third version of the story unique.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from services.dedup.fingerprint import (
    DEFAULT_BOILERPLATE,
    BoilerplateFilter,
    Fingerprint,
    PreparedText,
    article_boilerplate,
    containment_from_jaccard,
    estimate_jaccard,
    fingerprint_prepared,
    prepare,
)
from shared.messages import Article

DEFAULT_WINDOW_SECONDS = 72 * 3600
# Anchors shared by more indexed articles than this are common phrases or boilerplate: the bucket
# stops growing (it keeps its earliest members), so one hot phrase cannot make checks slow.
MAX_BUCKET = 8
# Candidates judged per check (those sharing the most anchors, then the earliest), earliest first:
# bounds a check's time when anchors are common.
MAX_CANDIDATES = 48
# Bytes of the content hash an indexed article keeps: they tell an exact copy among the candidates.
EXACT_HEAD_BYTES = 8
# An outlet's sentence seen in this many of its earlier articles is template.
MIN_SOURCE_ARTICLES = 2


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a candidate counts as the same story."""

    min_jaccard: float = 0.3
    min_containment: float = 0.5


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class Match:
    """The indexed article a checked article duplicates."""

    article_id: str
    kind: Literal["exact", "near"]
    jaccard: float
    containment: float


def similarity(sketch: bytes, size: int, other_sketch: bytes, other_size: int) -> tuple[float, float]:
    """(estimated Jaccard, estimated containment) of two sketched shingle sets."""
    if size <= 0 or other_size <= 0:
        return 0.0, 0.0
    jaccard = estimate_jaccard(sketch, other_sketch)
    return jaccard, containment_from_jaccard(jaccard, size, other_size)


def is_same_story(jaccard: float, containment: float, thresholds: Thresholds) -> bool:
    """The decision rule: similar enough overall, or the shorter text mostly inside the other."""
    return jaccard >= thresholds.min_jaccard or containment >= thresholds.min_containment


class NearDuplicateIndex(Protocol):
    """A shared index of unique articles within a time window."""

    async def check_and_insert(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        """Atomically: the earliest indexed article ``fp`` duplicates, else index it and say None.

        Checking an indexed article again returns None again (a redelivery of a unique article
        stays unique: it meets itself among its candidates before any copy of it); a duplicate is
        never indexed, so its redelivery gets the same match as long as that article is within
        the window.
        """
        ...

    async def check_and_insert_many(
        self, items: Sequence[tuple[str, Fingerprint]], *, now: float | None = None
    ) -> list[Match | None]:
        """``check_and_insert`` for each item in order (each one atomic), in one round trip."""
        ...


class SentenceFrequency(Protocol):
    """Per-outlet counts of the stories each sentence occurs in, within a time window."""

    async def frequent(
        self, source: str, keys: Collection[int], *, now: float | None = None
    ) -> frozenset[int]:
        """The ``keys`` counted in at least ``MIN_SOURCE_ARTICLES`` articles of ``source``."""
        ...

    async def count(self, source: str, keys: Collection[int], *, now: float | None = None) -> None:
        """Count one more article of ``source`` holding ``keys`` (call it once per outlet and story)."""
        ...


class _Self:
    """The answer "this is the very article indexed": a redelivery, neither a copy nor new."""


_SELF = _Self()


@dataclass(slots=True)
class _Entry:
    seq: int
    article_id: str
    content_hash: str
    sketch: bytes
    size: int
    anchors: tuple[int, ...]
    inserted_at: float


class InMemoryNearIndex:
    """The index in one process's memory (``newswire process``, tests, evaluation).

    Entries leave after ``window_seconds``. Methods never await inside, so on one event loop each
    check-and-insert is atomic.
    """

    def __init__(
        self,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        max_bucket: int = MAX_BUCKET,
    ) -> None:
        self.window_seconds = window_seconds
        self.thresholds = thresholds
        self.max_bucket = max_bucket
        self._next_seq = 0
        self._entries: dict[int, _Entry] = {}
        self._by_hash: dict[str, int] = {}
        self._buckets: dict[int, list[int]] = {}
        self._order: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    async def check_and_insert(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        """See ``NearDuplicateIndex.check_and_insert``."""
        return self.check_and_insert_sync(article_id, fp, now=now)

    async def check_and_insert_many(
        self, items: Sequence[tuple[str, Fingerprint]], *, now: float | None = None
    ) -> list[Match | None]:
        """See ``NearDuplicateIndex.check_and_insert_many``."""
        return [self.check_and_insert_sync(i, fp, now=now) for i, fp in items]

    def check_and_insert_sync(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        """The same, for synchronous callers."""
        now = time.time() if now is None else now
        self._expire(now)
        found = self._find(article_id, fp)
        if found is None:
            self._insert(article_id, fp, now)
        return found if isinstance(found, Match) else None

    def _find(self, article_id: str, fp: Fingerprint) -> Match | _Self | None:
        """As the Redis index's script: exact hashes for texts without a shingle; else candidates
        from the anchors, past ``MAX_CANDIDATES`` those sharing the most anchors, judged earliest
        first: the article itself (a redelivery), an exact copy, or a near one."""
        if not fp.has_sketch:
            seq = self._by_hash.get(fp.content_hash)
            return None if seq is None else self._judge(article_id, fp, self._entries[seq])
        hits = Counter(seq for a in fp.anchors for seq in self._buckets.get(a, ()))
        candidates = sorted(hits, key=lambda seq: (-hits[seq], seq))[:MAX_CANDIDATES]
        for seq in sorted(candidates):
            found = self._judge(article_id, fp, self._entries[seq])
            if found is not None:
                return found
        return None

    def _judge(self, article_id: str, fp: Fingerprint, entry: _Entry) -> Match | _Self | None:
        if entry.article_id == article_id:
            return _SELF
        head = 2 * EXACT_HEAD_BYTES  # hex digits
        if entry.content_hash[:head] == fp.content_hash[:head]:
            return Match(entry.article_id, "exact", 1.0, 1.0)
        jaccard, containment = similarity(fp.sketch, fp.size, entry.sketch, entry.size)
        if is_same_story(jaccard, containment, self.thresholds):
            return Match(entry.article_id, "near", jaccard, containment)
        return None

    def _insert(self, article_id: str, fp: Fingerprint, now: float) -> None:
        seq = self._next_seq
        self._next_seq += 1
        entry = _Entry(seq, article_id, fp.content_hash, fp.sketch, fp.size, fp.anchors, now)
        self._entries[seq] = entry
        if not fp.has_sketch:
            self._by_hash.setdefault(fp.content_hash, seq)
        for anchor in fp.anchors if fp.has_sketch else ():
            bucket = self._buckets.setdefault(anchor, [])
            if len(bucket) < self.max_bucket:
                bucket.append(seq)
        self._order.append(seq)

    def _expire(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._order and self._entries[self._order[0]].inserted_at <= horizon:
            entry = self._entries.pop(self._order.popleft())
            if self._by_hash.get(entry.content_hash) == entry.seq:
                del self._by_hash[entry.content_hash]
            for anchor in entry.anchors:
                bucket = self._buckets.get(anchor)
                if bucket is not None and entry.seq in bucket:
                    bucket.remove(entry.seq)
                    if not bucket:
                        del self._buckets[anchor]


class InMemorySentenceFrequency:
    """``SentenceFrequency`` in one process's memory, with the same window as the index."""

    def __init__(
        self,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        min_articles: int = MIN_SOURCE_ARTICLES,
    ) -> None:
        self.window_seconds = window_seconds
        self.min_articles = min_articles
        self._counts: Counter[tuple[str, int]] = Counter()
        self._order: deque[tuple[float, str, frozenset[int]]] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._order and self._order[0][0] <= horizon:
            _, old_source, old_keys = self._order.popleft()
            for key in old_keys:
                self._counts[(old_source, key)] -= 1
                if self._counts[(old_source, key)] <= 0:
                    del self._counts[(old_source, key)]

    async def frequent(
        self, source: str, keys: Collection[int], *, now: float | None = None
    ) -> frozenset[int]:
        """See ``SentenceFrequency.frequent``."""
        self._expire(time.time() if now is None else now)
        counts = self._counts
        return frozenset(k for k in keys if counts.get((source, k), 0) >= self.min_articles)

    async def count(self, source: str, keys: Collection[int], *, now: float | None = None) -> None:
        """See ``SentenceFrequency.count``."""
        now = time.time() if now is None else now
        self._expire(now)
        unique_keys = frozenset(keys)
        self._counts.update((source, k) for k in unique_keys)
        self._order.append((now, source, unique_keys))


def outlet_of(article: Article) -> str | None:
    """Who published the article: its site name, else its source, else its outlet code."""
    return article.site_name or article.source or article.outlet_code


class NearDuplicateDetector:
    """Learnt boilerplate + fingerprint + index: what the dedup stage calls per article."""

    def __init__(
        self,
        index: NearDuplicateIndex,
        frequency: SentenceFrequency | None = None,
        boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        self.index = index
        self.frequency = frequency
        self.boilerplate = boilerplate
        self.window_seconds = window_seconds
        # (story, outlet) pairs whose first article was counted, oldest first: one count per
        # outlet and story. Stories are named after their first article, as the index matches.
        self._counted: dict[tuple[str, str], float] = {}

    def _first_of_outlet(self, story: str, outlet: str, now: float | None) -> bool:
        """Whether this is the outlet's first article in ``story`` (and remember that it was)."""
        now = time.time() if now is None else now
        horizon = now - self.window_seconds
        counted = self._counted
        while counted:
            oldest = next(iter(counted))
            if counted[oldest] > horizon:
                break
            del counted[oldest]
        if (story, outlet) in counted:
            return False
        counted[(story, outlet)] = now
        return True

    async def fingerprint(
        self,
        text: PreparedText,
        source: str | None,
        *,
        boilerplate: BoilerplateFilter | None = None,
        now: float | None = None,
    ) -> Fingerprint:
        """The fingerprint without the outlet's learnt template sentences."""
        boilerplate = self.boilerplate if boilerplate is None else boilerplate
        if self.frequency is not None and source:
            frequent = await self.frequency.frequent(source, text.learnable_keys(), now=now)
            boilerplate = boilerplate.with_keys(frequent)
        return fingerprint_prepared(text, boilerplate)

    async def _check(
        self,
        article_id: str,
        text: PreparedText,
        source: str | None,
        *,
        boilerplate: BoilerplateFilter | None = None,
        counts: bool = True,
        now: float | None = None,
    ) -> Match | None:
        fp = await self.fingerprint(text, source, boilerplate=boilerplate, now=now)
        match = await self.index.check_and_insert(article_id, fp, now=now)
        if counts and self.frequency is not None and source:
            story = match.article_id if match is not None else article_id
            if self._first_of_outlet(story, source, now):
                await self.frequency.count(source, text.learnable_keys(), now=now)
        return match

    async def check(
        self,
        article_id: str,
        headline: str,
        body: Sequence[str],
        source: str | None = None,
        *,
        now: float | None = None,
    ) -> Match | None:
        """The earliest indexed article this one duplicates, else None (and it is now indexed);
        its sentences are counted for its outlet if it is the outlet's first in the story."""
        return await self._check(article_id, prepare(headline, body), source, now=now)

    async def check_article(self, article: Article, *, now: float | None = None) -> Match | None:
        """``check`` for an intake article: its outlet is its site name, else its source; its own
        teasers (``related``) are boilerplate. A later version (``version > 1``) is never counted:
        its outlet's first article in the story was (its first version, or an earlier one)."""
        text = prepare(article.headline, article.body)
        return await self._check(
            article.id,
            text,
            outlet_of(article),
            boilerplate=article_boilerplate(article, self.boilerplate),
            counts=article.version == 1,
            now=now,
        )
