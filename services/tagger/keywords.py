"""A few key phrases per article: RAKE-style scoring of stop-word-free phrases, headline boosted.

Candidate phrases are runs of up to three content words between stop words and punctuation; a word
scores its co-occurrence degree over its frequency (Rose et al., 2010), a phrase the sum of its words,
doubled when the phrase is in the headline. Stop words come from stopwords-iso (MIT). Linear in the
text, no model: fast enough for every article.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache

import stopwordsiso

MAX_PHRASE_WORDS = 3
DEFAULT_COUNT = 5
HEADLINE_BOOST = 2.0
# Key phrases of news are in its first paragraphs: reading this much of the body is enough.
BODY_CHARS = 1_500
# ISO 639-1 codes whose stop-word list lives under another code in stopwords-iso.
_STOPWORD_CODES = {"nb": "no"}

_TOKEN = re.compile(r"\w[\w'\u2019.-]*\w|\w|[.,;:!?()\"«»„“”\u2018\u2019\[\]\u2013\u2014/]")
_BREAK = re.compile(r"[.,;:!?()\"«»„“”\u2018\u2019\[\]\u2013\u2014/]")


@cache
def stopwords(language: str) -> frozenset[str]:
    """Lower-cased stop words of a language (empty when unknown), plus English ones for quotes."""
    code = _STOPWORD_CODES.get(language, language)
    words = stopwordsiso.stopwords(code) if stopwordsiso.has_lang(code) else set()
    return frozenset(w.lower() for w in words) | frozenset(stopwordsiso.stopwords("en"))


def _phrases(text: str, stop: frozenset[str]) -> list[tuple[str, ...]]:
    phrases: list[tuple[str, ...]] = []
    current: list[str] = []
    for token in _TOKEN.findall(text):
        low = token.lower()
        if _BREAK.fullmatch(token) or low in stop or low.isdigit() or len(low) < 2:
            if current:
                phrases.append(tuple(current))
                current = []
            continue
        current.append(token)
        if len(current) == MAX_PHRASE_WORDS:
            phrases.append(tuple(current))
            current = []
    if current:
        phrases.append(tuple(current))
    return phrases


def key_phrases(headline: str, body_text: str, language: str, count: int = DEFAULT_COUNT) -> tuple[str, ...]:
    """Up to ``count`` key phrases, best first, as written in the article (first spelling seen)."""
    stop = stopwords(language)
    headline_phrases = _phrases(headline, stop)
    phrases = headline_phrases + _phrases(body_text[:BODY_CHARS], stop)
    frequency: dict[str, int] = defaultdict(int)
    degree: dict[str, int] = defaultdict(int)
    for phrase in phrases:
        for word in phrase:
            low = word.lower()
            frequency[low] += 1
            degree[low] += len(phrase)
    in_headline = {" ".join(p).lower() for p in headline_phrases}
    scores: dict[str, float] = {}
    spelling: dict[str, str] = {}
    for phrase in phrases:
        key = " ".join(phrase).lower()
        if key in scores:
            scores[key] += 0.5  # repeated phrases matter, but less than their words' weight
            continue
        score = sum(degree[w.lower()] / frequency[w.lower()] for w in phrase)
        score += sum(frequency[w.lower()] - 1 for w in phrase) * 0.5
        if key in in_headline:
            score *= HEADLINE_BOOST
        scores[key] = score
        spelling[key] = " ".join(phrase)
    ranked = sorted(scores, key=lambda key: (-scores[key], key))
    chosen: list[str] = []
    for key in ranked:
        if any(key in other or other in key for other in chosen):
            continue
        chosen.append(key)
        if len(chosen) == count:
            break
    return tuple(spelling[key] for key in chosen)
