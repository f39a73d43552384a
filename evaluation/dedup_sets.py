"""Generates near-duplicate evaluation sets from real German articles.

The articles (10kGNAD test split, CC BY-NC-SA; the seed page) are read from the shared data folder at
run time and never copied into the repository. From them this module builds a stream of documents as
the dedup stage sees them, i.e. headline + body paragraphs after intake cleaned the page, with the
*residue* that a cleaner typically leaves behind (a site name in the headline, a UI junk line, a
byline, a photo credit, a leaked teaser of the outlet's "Empfohlen" block).

Every story appears once as an ``original`` and as variants (true duplicates of it):

* ``republication``: another outlet (other site name, byline, junk lines, teasers, paragraphing);
* ``truncated_70`` / ``truncated_50``: the body cut at a sentence boundary to 70% / 50% of its words;
* ``light_edit``: a few words changed (headline included) and one body sentence dropped;
* ``combined``: light edit and truncation to 50% together.

Hard negatives come with the stream itself: different stories under the same outlet template and
teaser block, different stories of the same section, and stubs that share only the legal sentence
of 10kGNAD's agency articles (the 10kGNAD stubs plus synthetic ones built the same way from leads of
articles kept out of the story pool). Each stub also gets one ``stub_republication``, a true duplicate.

Everything is drawn from one seeded RNG: the same seed gives the same set.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evaluation.common import DataMissingError

ARTICLES_CSV = Path("10kgnad") / "articles.csv"
SEED_PAGE = Path("seed") / "000_f9cc83e86fb4ea15.txt"

# The sentence 10kGNAD's agency stubs end with (see data/10kgnad/PROVENANCE.md).
LEGAL_STUB_SENTENCE = (
    "Der Volltext dieses auf Agenturmeldungen basierenden Artikels steht aus rechtlichen Gründen "
    "nicht mehr zur Verfügung."
)

POSITIVE_CATEGORIES = (
    "republication",
    "truncated_70",
    "truncated_50",
    "light_edit",
    "combined",
    "stub_republication",
)

# How often a piece of page furniture survives intake's cleaning, per rendered document.
P_SITE_IN_HEADLINE = 0.4
P_JUNK_LINE = 0.5
P_BYLINE = 0.4
P_PHOTO_CREDIT = 0.3
P_TEASER_LEAK = 0.25
P_REPARAGRAPH = 0.3

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"„»(A-ZÄÖÜ0-9])")
_WORD = re.compile(r"\w[\w-]*")

# Made-up outlets (name, byline code); the benchmark's generator republishes under them too.
OUTLETS = (
    ("Deutsche Tageszeitung", "DTZ"),
    ("Nordkurier Online", "NKO"),
    ("Rhein-Post Digital", "RPD"),
    ("Alpenblick Nachrichten", "ABN"),
    ("Der Morgenbote", "MOB"),
    ("Hansestadt Anzeiger", "HSA"),
    ("Neue Presse Mitte", "NPM"),
)
_JUNK_LINES = (
    "Textgröße ändern:",
    "Artikel teilen",
    "Drucken",
    "Lesezeit: 3 Minuten",
    "Kommentare",
    "Mehr zum Thema",
    "Zur Startseite",
    "Anzeige",
)
_SURNAMES = ("Sørensen", "Keller", "Novak", "Brandt", "Yilmaz", "Lindqvist", "Moreau", "Horvat")
_AGENCIES = ("AFP", "dpa", "POOL/AFP", "APA", "Reuters")


@dataclass(frozen=True, slots=True)
class Story:
    """A real article split into headline and paragraphs of sentences."""

    key: str
    section: str
    headline: str
    paragraphs: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Outlet:
    """A publisher's page template: what its pages carry around the story."""

    name: str
    code: str
    junk_lines: tuple[str, ...]
    teasers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class EvalDoc:
    """One document of the stream, as the dedup stage sees it (cleaned, with some residue)."""

    doc_id: str
    story: str
    category: str
    outlet: str
    section: str
    headline: str
    body: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvalSet:
    """A shuffled stream of documents; ``story`` is the ground truth of who duplicates whom."""

    docs: tuple[EvalDoc, ...]
    seed: int


def split_sentences(text: str) -> list[str]:
    """Sentences of running German news text (a heuristic good enough for generating variants)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def load_stories(data: Path) -> tuple[list[Story], list[Story]]:
    """(regular stories, agency stubs) from 10kGNAD, plus the seed page as a regular story."""
    csv_path = data / ARTICLES_CSV
    if not csv_path.is_file():
        raise DataMissingError(f"{csv_path} is missing")
    regular: list[Story] = []
    stubs: list[Story] = []
    with csv_path.open(encoding="utf-8", newline="") as f:
        for n, (label, text) in enumerate(csv.reader(f, delimiter=";", quotechar="'")):
            sentences = split_sentences(text)
            if len(sentences) < 2:
                continue
            story = Story(f"gnad{n}", label, sentences[0], _paragraphs(sentences[1:], 3))
            (stubs if LEGAL_STUB_SENTENCE in text else regular).append(story)
    seed_story = _seed_story(data / SEED_PAGE)
    if seed_story is not None:
        regular.append(seed_story)
    return regular, stubs


def _paragraphs(sentences: Sequence[str], per: int) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(sentences[i : i + per]) for i in range(0, len(sentences), per))


def _seed_story(path: Path) -> Story | None:
    """The seed page's story: the headline line, then body paragraphs up to the byline."""
    if not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    headline = lines[1]
    body: list[tuple[str, ...]] = []
    for line in lines[2:]:
        if line.startswith("(") and "--" in line:
            break
        if line == headline or "Foto:" in line or line in _JUNK_LINES:
            continue
        body.append(tuple(split_sentences(line)))
    return Story("seed", "International", headline, tuple(body))


def generate(data: Path, seed: int = 20261105, synthetic_stubs: int = 60) -> EvalSet:
    """Build the evaluation stream (deterministic for a given data folder and seed)."""
    regular, real_stubs = load_stories(data)
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling for a test set, not security
    pool = sorted(regular, key=lambda s: s.key)
    rng.shuffle(pool)
    # Articles that only lend their lead to a synthetic stub (so no stub duplicates a pool story),
    # and articles that only fill teaser blocks.
    stub_sources, teaser_sources, stories = (
        pool[:synthetic_stubs],
        pool[synthetic_stubs : synthetic_stubs + 3 * len(OUTLETS)],
        pool[synthetic_stubs + 3 * len(OUTLETS) :],
    )
    outlets = [
        Outlet(
            name,
            code,
            tuple(rng.sample(_JUNK_LINES, 3)),
            tuple(_teaser(s) for s in teaser_sources[3 * i : 3 * i + 3]),
        )
        for i, (name, code) in enumerate(OUTLETS)
    ]
    vocabulary = sorted({w for s in stories for p in s.paragraphs for t in p for w in _WORD.findall(t)})
    stubs = list(real_stubs) + [
        Story(f"stub-{s.key}", s.section, s.headline, ((LEGAL_STUB_SENTENCE,),)) for s in stub_sources
    ]
    docs: list[EvalDoc] = []
    for story in stories:
        docs.extend(_story_docs(story, outlets, vocabulary, rng))
    for stub in stubs:
        first, second = rng.sample(outlets, 2)
        docs.append(_render(stub, stub.paragraphs, stub.headline, first, "original", rng))
        docs.append(_render(stub, stub.paragraphs, stub.headline, second, "stub_republication", rng))
    rng.shuffle(docs)
    numbered = tuple(
        EvalDoc(f"d{i:05d}", d.story, d.category, d.outlet, d.section, d.headline, d.body)
        for i, d in enumerate(docs)
    )
    return EvalSet(numbered, seed)


def _teaser(story: Story) -> tuple[str, str]:
    return story.headline, story.paragraphs[0][0] if story.paragraphs else ""


def _story_docs(
    story: Story, outlets: Sequence[Outlet], vocabulary: Sequence[str], rng: random.Random
) -> list[EvalDoc]:
    """The original and its five variants, each at a different outlet."""
    chosen = rng.sample(list(outlets), 6)
    edited_headline, edited = _light_edit(story.headline, story.paragraphs, vocabulary, rng)
    variants: list[tuple[str, tuple[tuple[str, ...], ...], str]] = [
        ("original", story.paragraphs, story.headline),
        ("republication", story.paragraphs, story.headline),
        ("truncated_70", _truncate(story.paragraphs, 0.7), story.headline),
        ("truncated_50", _truncate(story.paragraphs, 0.5), story.headline),
        ("light_edit", edited, edited_headline),
        ("combined", _truncate(edited, 0.5), edited_headline),
    ]
    return [
        _render(story, paragraphs, headline, outlet, category, rng)
        for (category, paragraphs, headline), outlet in zip(variants, chosen, strict=True)
    ]


def _truncate(paragraphs: tuple[tuple[str, ...], ...], share: float) -> tuple[tuple[str, ...], ...]:
    """Keep whole sentences from the start until ``share`` of the body's words are kept."""
    total = sum(len(s.split()) for p in paragraphs for s in p)
    budget = max(1, round(total * share))
    kept: list[tuple[str, ...]] = []
    used = 0
    for paragraph in paragraphs:
        taken: list[str] = []
        for sentence in paragraph:
            if used >= budget:
                break
            taken.append(sentence)
            used += len(sentence.split())
        if taken:
            kept.append(tuple(taken))
        if used >= budget:
            break
    return tuple(kept)


def _light_edit(
    headline: str,
    paragraphs: tuple[tuple[str, ...], ...],
    vocabulary: Sequence[str],
    rng: random.Random,
) -> tuple[str, tuple[tuple[str, ...], ...]]:
    """Change one headline word and three body words; drop one body sentence (not the first)."""
    sentences = [(pi, s) for pi, p in enumerate(paragraphs) for s in p]
    if len(sentences) > 2:
        del sentences[rng.randrange(1, len(sentences))]
    words = [(i, w) for i, (_, s) in enumerate(sentences) for w in s.split()]
    for _ in range(min(3, len(words))):
        i, word = rng.choice(words)
        pi, sentence = sentences[i]
        sentences[i] = (pi, sentence.replace(word, rng.choice(vocabulary), 1))
    regrouped: dict[int, list[str]] = {}
    for pi, s in sentences:
        regrouped.setdefault(pi, []).append(s)
    headline_words = headline.split()
    if len(headline_words) > 2:
        k = rng.randrange(len(headline_words))
        headline_words[k] = rng.choice(vocabulary)
    return " ".join(headline_words), tuple(tuple(v) for _, v in sorted(regrouped.items()))


def _render(
    story: Story,
    paragraphs: tuple[tuple[str, ...], ...],
    headline: str,
    outlet: Outlet,
    category: str,
    rng: random.Random,
) -> EvalDoc:
    """The document as dedup sees it at ``outlet``: cleaned text plus what cleaning left behind."""
    if rng.random() < P_REPARAGRAPH:
        flat = [s for p in paragraphs for s in p]
        paragraphs = _paragraphs(flat, rng.choice((2, 4, 5)))
    body = [" ".join(p) for p in paragraphs]
    if rng.random() < P_SITE_IN_HEADLINE:
        headline = f"{outlet.name} - {headline}"
    if rng.random() < P_PHOTO_CREDIT:
        body.insert(0, f"{headline} / Foto: © {rng.choice(_AGENCIES)}")
    if rng.random() < P_JUNK_LINE:
        body.insert(rng.randrange(len(body) + 1), rng.choice(outlet.junk_lines))
    if rng.random() < P_BYLINE:
        body.append(f"({rng.choice('ABCDEFGHKLMNRSTV')}.{rng.choice(_SURNAMES)}--{outlet.code})")
    if rng.random() < P_TEASER_LEAK:
        teaser_headline, teaser_lead = outlet.teasers[0]
        body.extend((teaser_headline, teaser_lead))
    return EvalDoc("", story.key, category, outlet.name, story.section, headline, tuple(body))


if __name__ == "__main__":
    from collections import Counter

    from evaluation.common import data_dir

    generated = generate(data_dir())
    print(len(generated.docs), Counter(d.category for d in generated.docs))
