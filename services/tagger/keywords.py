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

_BREAK_CHARS = '.,;:!?()"«»„“”\u2018\u2019[]\u2013\u2014/'
# A word (letters, digits, inner apostrophes, dots and hyphens) or one punctuation mark that ends a phrase.
_TOKEN = re.compile(r"\w[\w'\u2019.-]*\w|\w|[" + re.escape(_BREAK_CHARS) + "]")

# A candidate phrase: its lower-cased words and its spelling in the text.
Phrase = tuple[tuple[str, ...], str]


@cache
def stopwords(language: str) -> frozenset[str]:
    """Lower-cased stop words of a language (empty when unknown), plus English ones for quotes."""
    code = _STOPWORD_CODES.get(language, language)
    words = stopwordsiso.stopwords(code) if stopwordsiso.has_lang(code) else set()
    return frozenset(w.lower() for w in words) | frozenset(stopwordsiso.stopwords("en"))


def _phrases(text: str, stop: frozenset[str]) -> list[Phrase]:
    """Runs of up to ``MAX_PHRASE_WORDS`` content words, split at stop words, numbers and punctuation."""
    phrases: list[Phrase] = []
    words: list[str] = []
    spelled: list[str] = []
    tokens = _TOKEN.findall(text)
    lowered = _TOKEN.findall(text.lower())
    if len(lowered) != len(tokens):  # lower-casing changed the tokens (rare letters like "İ")
        lowered = [token.lower() for token in tokens]
    for token, low in zip(tokens, lowered, strict=True):
        # A word token starts with a word character, so its first character tells punctuation apart.
        if low in stop or token[0] in _BREAK_CHARS or len(low) < 2 or low.isdigit():
            if words:
                phrases.append((tuple(words), " ".join(spelled)))
                words, spelled = [], []
            continue
        words.append(low)
        spelled.append(token)
        if len(words) == MAX_PHRASE_WORDS:
            phrases.append((tuple(words), " ".join(spelled)))
            words, spelled = [], []
    if words:
        phrases.append((tuple(words), " ".join(spelled)))
    return phrases


def key_phrases(headline: str, body_text: str, language: str, count: int = DEFAULT_COUNT) -> tuple[str, ...]:
    """Up to ``count`` key phrases, best first, as written in the article (first spelling seen)."""
    stop = stopwords(language)
    headline_phrases = _phrases(headline, stop)
    phrases = headline_phrases + _phrases(body_text[:BODY_CHARS], stop)
    frequency: dict[str, int] = defaultdict(int)
    degree: dict[str, int] = defaultdict(int)
    for words, _ in phrases:
        size = len(words)
        for word in words:
            frequency[word] += 1
            degree[word] += size
    in_headline = {words for words, _ in headline_phrases}
    scores: dict[tuple[str, ...], float] = {}
    spelling: dict[tuple[str, ...], str] = {}
    for words, spelled in phrases:
        if words in scores:
            scores[words] += 0.5  # repeated phrases matter, but less than their words' weight
            continue
        score = 0.0
        for word in words:
            score += degree[word] / frequency[word] + (frequency[word] - 1) * 0.5
        if words in in_headline:
            score *= HEADLINE_BOOST
        scores[words] = score
        spelling[words] = spelled
    keys = {words: " ".join(words) for words in scores}
    ranked = sorted(scores, key=lambda words: (-scores[words], keys[words]))
    chosen: list[str] = []
    result: list[str] = []
    for words in ranked:
        key = keys[words]
        if any(key in other or other in key for other in chosen):
            continue
        chosen.append(key)
        result.append(spelling[words])
        if len(chosen) == count:
            break
    return tuple(result)
