"""Realistic input for the benchmark: distinct German news articles and republished copies of them.

Sentences come from real articles read at run time: 10kGNAD and the seed page from the shared data
folder (``evaluation.common.data_dir()``; never copied into the repository), else the bundled
``samples/``. A *unique* article is a real headline over a body of sentences dealt from the whole pool
(as many as a real article has): real sentences, each once, and once the pool is used up the same
sentences with every fourth word replaced (``SentenceDeck``), so two unique articles share almost no
sentence or 5-word shingle and a near-duplicate detector has no reason to join them. A *copy*
republishes an earlier article of the same batch under another outlet: half word for word, half with
the residue a republication carries (site name in the headline, a junk line, a byline). The mix is 80%
unique, 20% copies by default.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evaluation.common import REPO_ROOT, DataMissingError
from evaluation.dedup_sets import OUTLETS, load_stories, split_sentences

SAMPLES = REPO_ROOT / "samples"
SENTENCES_PER_PARAGRAPH = 3
MAX_SENTENCES = 30
JUNK_LINES = ("Textgröße ändern:", "Artikel teilen", "Lesezeit: 3 Minuten", "Mehr zum Thema")
_PAGE_LINE = re.compile(r"\S")
# A word of letters, and the punctuation after it: what a sentence dealt again may have replaced.
_WORD = re.compile(r"^([^\W\d_]+)(\W*)$")
REPLACED_EVERY = 4  # every 4th word of a sentence dealt again: each 5 words in a row hold one


@dataclass(frozen=True)
class Corpus:
    """Real headlines, real sentences, and how many sentences real articles have."""

    origin: str
    headlines: tuple[str, ...]
    sentences: tuple[str, ...]
    lengths: tuple[int, ...]


@dataclass(frozen=True)
class Item:
    """One JSON input item for ``POST /v1/articles``, and whether it copies an earlier one."""

    body: bytes
    copy_of: int | None  # index of the original in the batch


def load_corpus(data: Path) -> Corpus:
    """10kGNAD and the seed page when the shared data is there, else the bundled samples."""
    try:
        regular, stubs = load_stories(data)
    except DataMissingError:
        return _samples_corpus()
    stories = regular + stubs
    sentences = tuple(s for story in stories for p in story.paragraphs for s in p)
    lengths = tuple(min(MAX_SENTENCES, sum(len(p) for p in story.paragraphs)) for story in stories)
    return Corpus(
        f"{len(stories)} real articles (10kGNAD and the seed page, read from {data})",
        tuple(story.headline for story in stories),
        sentences,
        lengths,
    )


def _samples_corpus() -> Corpus:
    headlines: list[str] = []
    sentences: list[str] = []
    lengths: list[int] = []
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix == ".json":
            item = json.loads(path.read_text(encoding="utf-8"))
            paragraphs = item["body"] if isinstance(item["body"], list) else item["body"].split("\n\n")
            headline = item["headline"]
        elif path.suffix == ".txt":
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            lines = [line for line in lines if _PAGE_LINE.search(line)]
            headline, paragraphs = lines[1], [line for line in lines[2:] if len(line) > 80]
        else:
            continue
        found = [s for p in paragraphs for s in split_sentences(p)]
        headlines.append(headline)
        sentences.extend(found)
        lengths.append(len(found))
    return Corpus(
        f"the {len(headlines)} bundled samples (no shared data folder)",
        tuple(headlines),
        tuple(sentences),
        tuple(lengths),
    )


def _paragraphs(sentences: Sequence[str]) -> list[str]:
    step = SENTENCES_PER_PARAGRAPH
    return [" ".join(sentences[i : i + step]) for i in range(0, len(sentences), step)]


class SentenceDeck:
    """The pool's sentences dealt in a shuffled order, each once as it is. Once all are dealt the
    deck is shuffled again, and a sentence dealt again has every fourth word (from a random first
    one) replaced by a word of the pool of the same case: each five words in a row hold a replaced
    one, so it shares no sentence and (but by chance) no 5-word shingle with its other dealings.

    Why: the pool holds some 12,000 sentences, and a run of the benchmark deals 30,000-60,000. Dealt
    as they are, different stories of one outlet carried the same sentences again and again (each
    a few times per outlet in 3,000 articles), which no real wire does: dedup's per-outlet counts
    took them for the outlet's template, sending 45% of the articles back to be fingerprinted
    again, and their shared 5-word shingles made other stories candidates (12 records read per
    article)."""

    def __init__(self, corpus: Corpus, rng: random.Random) -> None:
        self._sentences = corpus.sentences
        self._rng = rng
        self._order: list[int] = []
        self._deals = 0  # times the deck was shuffled
        words = {m.group(1) for s in corpus.sentences for w in s.split() if (m := _WORD.match(w))}
        self._capitalised = sorted(w for w in words if w[0].isupper())
        self._lower = sorted(w for w in words if w[0].islower())

    def deal(self, count: int) -> list[str]:
        dealt = []
        for _ in range(count):
            if not self._order:
                self._order = list(range(len(self._sentences)))
                self._rng.shuffle(self._order)
                self._deals += 1
            sentence = self._sentences[self._order.pop()]
            dealt.append(sentence if self._deals == 1 else self._varied(sentence))
        return dealt

    def _varied(self, sentence: str) -> str:
        words = []
        offset = self._rng.randrange(REPLACED_EVERY)
        for n, word in enumerate(sentence.split()):
            m = _WORD.match(word)
            if m and (n + offset) % REPLACED_EVERY == 0:
                same_case = self._capitalised if m.group(1)[0].isupper() else self._lower
                word = self._rng.choice(same_case) + m.group(2)
            words.append(word)
        return " ".join(words)


def unique_article(corpus: Corpus, deck: SentenceDeck, rng: random.Random, serial: str) -> dict[str, object]:
    """A new story: a real headline over sentences dealt from the pool."""
    count = max(2, rng.choice(corpus.lengths))
    body = deck.deal(count)
    name, code = rng.choice(OUTLETS)
    return {
        "headline": rng.choice(corpus.headlines),
        "body": _paragraphs(body),
        "source": name,
        "url": f"https://{code.lower()}.example/{serial}",
    }


def republished(original: dict[str, object], rng: random.Random, serial: str, *, verbatim: bool) -> dict:
    """The same story at another outlet: word for word, or with a republication's residue."""
    name, code = rng.choice([outlet for outlet in OUTLETS if outlet[0] != original["source"]])
    body = list(original["body"])  # type: ignore[call-overload]  # a list of paragraphs, built above
    headline = str(original["headline"])
    if not verbatim:
        headline = f"{name} - {headline}"
        body.insert(rng.randrange(len(body) + 1), rng.choice(JUNK_LINES))
        body.append(f"({rng.choice('ABCDEFGHKLMNRSTV')}.Keller--{code})")
    return {
        "headline": headline,
        "body": body,
        "source": name,
        "url": f"https://{code.lower()}.example/{serial}",
    }


def batch(corpus: Corpus, count: int, seed: int, copy_share: float = 0.2) -> list[Item]:
    """``count`` items in arrival order, ``copy_share`` of them copies of an earlier item of the batch."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test input, not security
    deck = SentenceDeck(corpus, rng)
    items: list[Item] = []
    originals: list[tuple[int, dict[str, object]]] = []
    for n in range(count):
        serial = f"{seed}-{n}"
        if originals and rng.random() < copy_share:
            index, original = rng.choice(originals[-200:])  # copies follow their story within minutes
            article = republished(original, rng, serial, verbatim=rng.random() < 0.5)
            items.append(Item(json.dumps(article, ensure_ascii=False).encode(), index))
            continue
        article = unique_article(corpus, deck, rng, serial)
        originals.append((n, article))
        items.append(Item(json.dumps(article, ensure_ascii=False).encode(), None))
    return items
