"""IPTC Media Topics for an article, by weighted keyword rules in German and English.

The vocabulary is IPTC's (vendored, CC BY 4.0); the rules are ours (``data/topic_keywords.json``) plus
the German and English IPTC names of every concept (at half weight: many are everyday words), each
counted for its level-2 ancestor. An article's level-2 scores add up to its top-level scores; the
strongest top-level topics become its subjects. The headline and the start of the body weigh more.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import ahocorasick
from pydantic import TypeAdapter

from shared.messages import Subject

DATA_DIR = Path(__file__).resolve().parent / "data"
IPTC_FILE = DATA_DIR / "iptc_mediatopics_2025-03-31.json"
RULES_FILE = DATA_DIR / "topic_keywords.json"
URI_PREFIX = "http://cv.iptc.org/newscodes/mediatopic/"

# Followable slugs of the 17 top-level Media Topics. Stable: subscribers' streams are named after them.
TOP_LEVEL_SLUGS: dict[str, str] = {
    "medtop:01000000": "arts-culture-media",
    "medtop:02000000": "crime-law-justice",
    "medtop:03000000": "disaster-accident",
    "medtop:04000000": "economy-business-finance",
    "medtop:05000000": "education",
    "medtop:06000000": "environment",
    "medtop:07000000": "health",
    "medtop:08000000": "human-interest",
    "medtop:09000000": "labour",
    "medtop:10000000": "lifestyle-leisure",
    "medtop:11000000": "politics",
    "medtop:12000000": "religion",
    "medtop:13000000": "science-technology",
    "medtop:14000000": "society",
    "medtop:15000000": "sport",
    "medtop:16000000": "conflict-war-peace",
    "medtop:17000000": "weather",
}

# Endings a plain pattern may carry (plural, genitive, adjective endings in German and English).
INFLECTIONS = frozenset({"", "s", "es", "e", "en", "n", "er", "ern", "em"})
HEADLINE_WEIGHT = 2.0
# News puts what a story is about first: the start of the body counts this much extra.
LEAD_CHARS = 400
LEAD_EXTRA_WEIGHT = 1.0
# One word repeated all over an article says less than many different words: cap its count.
MAX_COUNT_PER_PATTERN = 3
# A top-level topic is kept when it reaches this score and this share of the best one.
MIN_TOP_SCORE = 2.0
MIN_TOP_SHARE = 0.2
MAX_TOP_LEVEL = 3
MIN_SECOND_SCORE = 1.5
MIN_SECOND_SHARE = 0.4
MAX_SECOND_LEVEL_PER_TOP = 2
# IPTC names that are too generic (or too ambiguous as words) to count as evidence.
IPTC_NAME_STOPLIST = frozenset({
    "sonstiges", "other", "general", "allgemein", "bob", "pool", "polo", "golf", "dart", "darts",
    "spiele", "games", "medien", "media", "kunst", "art", "events", "veranstaltung", "gesellschaft",
    "society", "people", "personen", "politik", "politics", "film", "music", "musik", "sport",
})  # fmt: skip

IPTC_NAME_SPLIT = r",|/| und | and | oder | or "
IPTC_NAME_WEIGHT = 0.5
_WORD = re.compile(r"\w+")
# Validates an article's subjects in one call into pydantic's compiled core (cheaper than one by one).
_SUBJECT_LIST = TypeAdapter(list[Subject])
# Distinct words whose evidence is remembered (a few MB at most).
CACHE_WORDS = 200_000


@dataclass(frozen=True)
class Concept:
    """One active IPTC Media Topic."""

    qcode: str
    level: int
    parent: str | None
    name_en: str
    name_de: str | None
    definition_en: str

    @property
    def uri(self) -> str:
        return URI_PREFIX + self.qcode.removeprefix("medtop:")


class IptcVocabulary:
    """The active IPTC Media Topics (2025-03-31 release) with their hierarchy."""

    def __init__(self, path: Path = IPTC_FILE) -> None:
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.concepts: dict[str, Concept] = {
            item["qcode"]: Concept(
                qcode=item["qcode"],
                level=item["level"],
                parent=item["parent"],
                name_en=item["en"],
                name_de=item["de"],
                definition_en=item["en_def"] or "",
            )
            for item in raw["concepts"]
        }

    def ancestor_at(self, qcode: str, level: int) -> str:
        """The concept's ancestor at ``level`` (itself when it is at that level or above)."""
        concept = self.concepts[qcode]
        while concept.level > level and concept.parent is not None:
            concept = self.concepts[concept.parent]
        return concept.qcode

    def top_level(self) -> list[Concept]:
        return [c for c in self.concepts.values() if c.level == 1]


@cache
def vocabulary() -> IptcVocabulary:
    """The vendored IPTC vocabulary, loaded once per process."""
    return IptcVocabulary()


@dataclass(frozen=True)
class _Pattern:
    core: str  # the pattern without its stars, lower case
    prefix_ok: bool  # may continue into a longer word ("wahl*")
    suffix_ok: bool  # may end a longer word ("*wahl")
    target: str  # qcode the evidence counts for (level 1 or 2)
    top: str  # the target's top-level topic
    weight: float
    language: str | None  # None: any language
    exclude: bool  # "!pattern": a word it matches is no evidence for ``top`` at all


# Evidence one word gives: (target concept, weight), at most one pair per top-level topic.
WordEvidence = tuple[tuple[str, float], ...]


def _parse_pattern(raw: str, target: str, top: str) -> _Pattern:
    text, _, weight = raw.partition("|")
    exclude = text.startswith("!")
    text = text.removeprefix("!")
    language: str | None = None
    if text[:3] in ("de:", "en:"):
        language, text = text[:2], text[3:]
    return _Pattern(
        core=text.strip("*").lower(),
        prefix_ok=text.endswith("*"),
        suffix_ok=text.startswith("*"),
        target=target,
        top=top,
        weight=float(weight) if weight else 1.0,
        language=language,
        exclude=exclude,
    )


def _iptc_name_patterns(vocab: IptcVocabulary) -> list[tuple[str, str]]:
    """(pattern, target) pairs from the German and English names of concepts at level 2 and below."""
    pairs: list[tuple[str, str]] = []
    for concept in vocab.concepts.values():
        if concept.level < 2:
            continue
        target = vocab.ancestor_at(concept.qcode, 2)
        for language, name in (("en", concept.name_en), ("de", concept.name_de)):
            if not name:
                continue
            cleaned = re.sub(r"\([^)]*\)", " ", name.lower())
            for part in re.split(IPTC_NAME_SPLIT, cleaned):
                part = " ".join(part.split())
                if len(part) >= 4 and part not in IPTC_NAME_STOPLIST:
                    pairs.append((f"{language}:{part}|{IPTC_NAME_WEIGHT}", target))
    return pairs


def _accepts(pattern: _Pattern, language: str, before: str, tail: str) -> bool:
    """Whether a pattern found in the text counts, given the character before it and the rest of its word."""
    if pattern.language is not None and pattern.language != language:
        return False
    if not pattern.suffix_ok and before.isalnum():
        return False
    return pattern.prefix_ok or tail in INFLECTIONS


class _PhraseCheck(NamedTuple):
    """What a text must hold for a phrase pattern to count in it: ``words`` among its words, and
    one of ``forms`` too when that is not None (a last word that may take an inflection)."""

    pattern: _Pattern
    words: frozenset[str]
    forms: frozenset[str] | None


def _phrase_check(pattern: _Pattern) -> _PhraseCheck:
    """The whole words of a text that every counted occurrence of ``pattern`` puts there.

    A run of word characters of the pattern is a whole word of the text when marks of the pattern
    surround it (the text has those marks too). At the pattern's start, so does a pattern that may not
    end a longer word (``_accepts`` wants no letter or digit before it; "_" before it is the text
    check's business); at its end, a pattern that may not continue into a longer word is followed by
    one of its inflections.
    """
    core = pattern.core
    words: set[str] = set()
    forms: frozenset[str] | None = None
    for run in _WORD.finditer(core):
        start, end = run.span()
        if start == 0 and pattern.suffix_ok:
            continue
        if end < len(core):
            words.add(run.group())
        elif not pattern.prefix_ok:
            forms = frozenset(run.group() + ending for ending in INFLECTIONS)
    return _PhraseCheck(pattern, frozenset(words), forms)


class TopicRules:
    """Keyword rules, matched word by word.

    Patterns of word characters only (nearly all) are looked up per distinct word of the text: one
    Aho-Corasick automaton finds them inside the word, and what a word is evidence of is cached, so
    once the common vocabulary of news has been seen a word costs a dictionary look-up. Patterns
    with a space, hyphen or dot ("box office", "eu-*") are found in the text itself by a second,
    small automaton.
    """

    def __init__(self, vocab: IptcVocabulary, rules_path: Path = RULES_FILE) -> None:
        rules = json.loads(rules_path.read_text(encoding="utf-8"))
        pairs = [
            (pattern, target)
            for target, patterns in rules.items()
            if not target.startswith("_")
            for pattern in patterns
        ]
        pairs += _iptc_name_patterns(vocab)
        by_core: dict[str, list[_Pattern]] = defaultdict(list)
        for raw, target in pairs:
            if target not in vocab.concepts:
                raise ValueError(f"topic rule for unknown concept {target}")
            pattern = _parse_pattern(raw, target, vocab.ancestor_at(target, 1))
            if pattern.core:
                by_core[pattern.core].append(pattern)
        self._words = ahocorasick.Automaton()
        self._phrases = ahocorasick.Automaton()
        for core, patterns in by_core.items():
            automaton = self._words if _WORD.fullmatch(core) else self._phrases
            automaton.add_word(core, tuple(patterns))
        self._words.make_automaton()
        self._phrases.make_automaton()
        # A text none of whose words starts a phrase pattern cannot contain one: skip that search.
        self._phrase_starts = frozenset(
            _WORD.match(core).group()  # type: ignore[union-attr]
            for core in by_core
            if not _WORD.fullmatch(core) and _WORD.match(core)
        )
        # A tighter test that ends most of the searches the first one lets through: a phrase pattern
        # counts only where the text holds its whole words (checks filed under one of them).
        self._phrase_checks: dict[str, list[_PhraseCheck]] = defaultdict(list)
        self._unfiled_checks: list[_PhraseCheck] = []
        for core, patterns in by_core.items():
            if _WORD.fullmatch(core):
                continue
            for pattern in patterns:
                if pattern.exclude:  # never counted by a phrase search
                    continue
                check = _phrase_check(pattern)
                keys = sorted(check.words)[:1] or sorted(check.forms or ())
                for key in keys:
                    self._phrase_checks[key].append(check)
                if not keys:
                    self._unfiled_checks.append(check)
        self._check_keys = frozenset(self._phrase_checks)
        # Per language: every word seen so far with its evidence, and the words that have some.
        self._known: dict[str, dict[str, WordEvidence]] = defaultdict(dict)
        self._evidence_words: dict[str, set[str]] = defaultdict(set)

    def word_evidence(self, word: str, language: str) -> WordEvidence:
        """What one lower-cased word (a run of word characters) is evidence of, in ``language``.

        A word is one piece of evidence per top-level topic: its strongest pattern under that topic
        counts (for that pattern's concept), unless an exclusion pattern of the topic matches the
        word too.
        """
        known = self._known[language]
        evidence = known.get(word)
        if evidence is not None:
            return evidence
        best: dict[str, tuple[str, float]] = {}
        excluded: set[str] = set()
        for end, patterns in self._words.iter(word):
            tail = word[end + 1 :]
            for pattern in patterns:
                start = end + 1 - len(pattern.core)
                if not _accepts(pattern, language, word[start - 1] if start else " ", tail):
                    continue
                if pattern.exclude:
                    excluded.add(pattern.top)
                elif pattern.top not in best or best[pattern.top][1] < pattern.weight:
                    best[pattern.top] = (pattern.target, pattern.weight)
        evidence = tuple(hit for top, hit in sorted(best.items()) if top not in excluded)
        if len(known) >= CACHE_WORDS:  # a crude bound on memory; refilling is cheap
            known.clear()
            self._evidence_words[language].clear()
        known[word] = evidence
        if evidence:
            self._evidence_words[language].add(word)
        return evidence

    def scores(self, text: str, language: str, weight: float = 1.0) -> dict[str, float]:
        """Evidence per target concept found in ``text``.

        A word counts once per top-level topic however many patterns match it, and a word repeated
        all over the text counts at most ``MAX_COUNT_PER_PATTERN`` times.
        """
        low = text.lower()
        result: dict[str, float] = defaultdict(float)
        found = _WORD.findall(low)
        # Set operations in C instead of a Python loop over every word: most words are no evidence,
        # so only the few that are get counted.
        known = self._known[language]
        words = set(found)
        for word in words.difference(known):
            self.word_evidence(word, language)
        evidence = words.intersection(self._evidence_words[language])
        counts = Counter(filter(evidence.__contains__, found))
        for word in evidence:
            repeats = min(counts[word], MAX_COUNT_PER_PATTERN) * weight
            for target, pattern_weight in known[word]:
                result[target] += repeats * pattern_weight
        if not words.isdisjoint(self._phrase_starts) and self._may_hold_phrase(low, words, language):
            self._add_phrases(low, language, weight, result)
        return result

    def _may_hold_phrase(self, low: str, words: set[str], language: str) -> bool:
        """False when no phrase pattern can count in ``low`` (whose words are ``words``)."""
        if "_" in low:  # "_" is a word character but may come before a pattern: not checked here
            return True
        candidates = self._unfiled_checks + [
            check for key in words.intersection(self._check_keys) for check in self._phrase_checks[key]
        ]
        return any(
            (check.pattern.language is None or check.pattern.language == language)
            and check.words <= words
            and (check.forms is None or not check.forms.isdisjoint(words))
            for check in candidates
        )

    def _add_phrases(self, low: str, language: str, weight: float, result: dict[str, float]) -> None:
        found: dict[_Pattern, int] = defaultdict(int)
        for end, patterns in self._phrases.iter(low):
            tail_match = _WORD.match(low, end + 1)
            tail = tail_match.group() if tail_match else ""
            for pattern in patterns:
                start = end + 1 - len(pattern.core)
                if not pattern.exclude and _accepts(
                    pattern, language, low[start - 1] if start else " ", tail
                ):
                    found[pattern] += 1
        for pattern, count in found.items():
            result[pattern.target] += min(count, MAX_COUNT_PER_PATTERN) * weight * pattern.weight


def _confidence(score: float, total: float) -> float:
    """How sure we are of one topic: its share of all evidence, damped when evidence is thin."""
    if total <= 0:
        return 0.0
    amount = 1.0 - math.exp(-score / 4.0)
    return round(min(1.0, score / total) * 0.5 + amount * 0.5, 3)


class TopicClassifier:
    """Assigns IPTC subjects (top level and level 2) to an article."""

    def __init__(self) -> None:
        self.vocab = vocabulary()
        self.rules = TopicRules(self.vocab)

    def level_scores(self, headline: str, body_text: str, language: str) -> dict[str, float]:
        """Evidence per level-1/level-2 concept, headline counted double."""
        scores: dict[str, float] = defaultdict(float)
        # The lead and the rest of the body are read separately (not the lead twice): one pass over the text.
        cut = body_text.find(" ", LEAD_CHARS)
        cut = len(body_text) if cut < 0 else cut
        parts = (
            (headline, HEADLINE_WEIGHT),
            (body_text[:cut], 1.0 + LEAD_EXTRA_WEIGHT),
            (body_text[cut:], 1.0),
        )
        for text, weight in parts:
            if not text:
                continue
            for qcode, value in self.rules.scores(text, language, weight).items():
                scores[qcode] += value
        return scores

    def classify(self, headline: str, body_text: str, language: str) -> tuple[Subject, ...]:
        """The article's subjects, strongest first: top levels, each followed by its level-2 topics."""
        scores = self.level_scores(headline, body_text, language)
        top: dict[str, float] = defaultdict(float)
        second: dict[str, float] = {}
        for qcode, value in scores.items():
            top[self.vocab.ancestor_at(qcode, 1)] += value
            if self.vocab.concepts[qcode].level == 2:
                second[qcode] = value
        if not top:
            return ()
        ranked = sorted(top.items(), key=lambda item: (-item[1], item[0]))
        best = ranked[0][1]
        total = sum(top.values())
        subjects: list[dict[str, object]] = []
        for qcode, value in ranked[:MAX_TOP_LEVEL]:
            if value < MIN_TOP_SCORE or value < MIN_TOP_SHARE * best:
                break
            subjects.append(self._subject(qcode, value, best, total))
            children = sorted(
                ((c, v) for c, v in second.items() if self.vocab.concepts[c].parent == qcode),
                key=lambda item: (-item[1], item[0]),
            )
            if not children:
                continue
            best_child = children[0][1]
            for child, child_value in children[:MAX_SECOND_LEVEL_PER_TOP]:
                if child_value < MIN_SECOND_SCORE or child_value < MIN_SECOND_SHARE * best_child:
                    break
                subjects.append(self._subject(child, child_value, best, total))
        return tuple(_SUBJECT_LIST.validate_python(subjects))

    def _subject(self, qcode: str, value: float, best: float, total: float) -> dict[str, object]:
        """A subject's fields (validated together with the article's other subjects: one call)."""
        concept = self.vocab.concepts[qcode]
        return {
            "code": qcode,
            "uri": concept.uri,
            "name": concept.name_en,
            "slug": TOP_LEVEL_SLUGS.get(qcode),
            "level": concept.level,
            "relevance": max(1, min(100, round(100 * value / best))),
            "confidence": _confidence(value, total),
        }


def topic_slug_catalogue() -> list[tuple[str, str]]:
    """(slug, description) of every followable top-level topic."""
    vocab = vocabulary()
    return [
        (slug, f"IPTC {qcode} {vocab.concepts[qcode].name_en}: {vocab.concepts[qcode].definition_en}")
        for qcode, slug in sorted(TOP_LEVEL_SLUGS.items(), key=lambda item: item[1])
    ]
