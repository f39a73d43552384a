"""A few key phrases per article: RAKE-style scoring of stop-word-free phrases, headline boosted.

Candidate phrases are runs of up to three content words between stop words and punctuation; a word
scores its co-occurrence degree over its frequency (Rose et al., 2010), a phrase the sum of its words,
doubled when the phrase is in the headline. Stop words come from stopwords-iso (MIT). Linear in the
text, no model: fast enough for every article.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache, lru_cache
from itertools import chain

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
# Runs of word characters joined by runs of those inner marks, the last run a word one; the repeats
# are possessive (the classes are disjoint, so nothing is given back), which the engine runs faster.
_TOKEN = re.compile(r"\w++(?:['\u2019.-]++\w++)*+|[" + re.escape(_BREAK_CHARS) + "]")
# A phrase is a run of up to ``MAX_PHRASE_WORDS`` content tokens; tokens are written as one letter
# each ("c" content, "b" a break) so that one regex scan in C finds the runs.
_CONTENT, _BREAK = "c", "b"
_PHRASE_RUN = re.compile(f"{_CONTENT}{{1,{MAX_PHRASE_WORDS}}}")
# Lower-cased tokens whose kind is remembered per language (cleared when it grows past this).
KIND_CACHE_LIMIT = 200_000

# A candidate phrase: its lower-cased words and its spelling in the text.
Phrase = tuple[tuple[str, ...], str]


@cache
def stopwords(language: str) -> frozenset[str]:
    """Lower-cased stop words of a language (empty when unknown), plus English ones for quotes."""
    code = _STOPWORD_CODES.get(language, language)
    words = stopwordsiso.stopwords(code) if stopwordsiso.has_lang(code) else set()
    return frozenset(w.lower() for w in words) | frozenset(stopwordsiso.stopwords("en"))


@lru_cache(maxsize=64)
def _token_kinds(language: str) -> dict[str, str]:
    """Per language, each lower-cased token seen and whether it is content or a phrase break."""
    return {}


def _kind(low: str, stop: frozenset[str]) -> str:
    # Punctuation tokens are one character, so the length test breaks at them too.
    return _BREAK if low in stop or len(low) < 2 or low.isdigit() else _CONTENT


def _phrases(text: str, language: str) -> list[Phrase]:
    """Runs of up to ``MAX_PHRASE_WORDS`` content words, split at stop words, numbers and punctuation."""
    tokens = _TOKEN.findall(text)
    # Each token lower-cased on its own: lower-casing the text first could change its tokens
    # (rare letters like "İ" become two characters).
    lowered = list(map(str.lower, tokens))
    kinds = _token_kinds(language)
    try:
        flags = "".join(map(kinds.__getitem__, lowered))
    except KeyError:  # words this language has not seen yet
        if len(kinds) >= KIND_CACHE_LIMIT:
            kinds.clear()
        stop = stopwords(language)
        for low in set(lowered).difference(kinds):
            kinds[low] = _kind(low, stop)
        flags = "".join(map(kinds.__getitem__, lowered))
    phrases: list[Phrase] = []
    for run in _PHRASE_RUN.finditer(flags):
        start, end = run.span()
        phrases.append((tuple(lowered[start:end]), " ".join(tokens[start:end])))
    return phrases


def key_phrases(headline: str, body_text: str, language: str, count: int = DEFAULT_COUNT) -> tuple[str, ...]:
    """Up to ``count`` key phrases, best first, as written in the article (first spelling seen)."""
    headline_phrases = _phrases(headline, language)
    phrases = headline_phrases + _phrases(body_text[:BODY_CHARS], language)
    all_words = [words for words, _ in phrases]
    # A word's frequency counts its occurrences; its degree adds the size of each phrase it is in,
    # i.e. counts each occurrence once per word of its phrase.
    frequency = Counter(chain.from_iterable(all_words))
    degree = Counter(chain.from_iterable(words * len(words) for words in all_words))
    word_score = {word: degree[word] / seen + (seen - 1) * 0.5 for word, seen in frequency.items()}
    in_headline = {words for words, _ in headline_phrases}
    scores: dict[tuple[str, ...], float] = {}
    spelling: dict[tuple[str, ...], str] = {}
    for words, spelled in phrases:
        if words in scores:
            scores[words] += 0.5  # repeated phrases matter, but less than their words' weight
            continue
        score = 0.0
        for word in words:
            score += word_score[word]
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
