"""Fingerprints of an article's cleaned text: an exact content hash and a near-duplicate sketch.

Text is compared as a set of *word k-shingles* (k = 5) taken inside each sentence of the headline
and body. From that set a fingerprint keeps:

* ``sketch``: a MinHash of 128 slots of which only 8 bits each are kept (b-bit MinHash): two
  slots then agree by accident with probability 1/256, which ``estimate_jaccard`` corrects for,
  and an index stores 128 bytes per article instead of 512;
* ``size``: the number of distinct shingles, so that containment (how much of the shorter text
  the other one holds: what a truncated copy keeps) follows from the estimated Jaccard;
* ``anchors``: the ``ANCHORS`` smallest shingle hashes (a bottom-s sample). A shingle that a
  truncated copy keeps and that is among the original's smallest is also among the copy's
  smallest, so truncations share anchors with their original: the index uses anchors as its
  candidate keys. Banding the MinHash instead would need one-slot bands to reach the low Jaccard
  of a cut and edited copy (down to ~0.2), and measured worse: of the 6,818 same-story pairs of
  the generated evaluation stream, 12 one-slot bands left 3 pairs without a shared key and 16 left
  2, while 12 or 16 anchors left none.

Speed (the dedup stage fingerprints every article): the text is handled as one array of code
points, never as a list of word strings, and the loops over it are compiled (``kernels``, numba).
Word boundaries and sentence ends come from per-character tables (the same classes as the regular
expressions ``[^\\W_]`` and ``\\s``), a word's hash is a polynomial over its code points, a
shingle's hash is a polynomial over its k word hashes, and the MinHash permutations are
multiply-add maps on 32 bits. All of it is arithmetic modulo 2^64 (or 2^32) with fixed constants,
so every process computes the same fingerprint.

Robustness to what intake's cleaning leaves behind:

* shingles never cross a sentence boundary: another paragraphing, or a junk line, byline or credit
  between two sentences, changes nothing, and a line shorter than k words adds no shingle;
* sentences in a ``BoilerplateFilter`` are dropped before shingling. A filter holds generic
  notices (``GENERIC_BOILERPLATE``), sentences learnt from a corpus of distinct stories
  (``BoilerplateFilter.learn``), and, at run time, sentences an outlet repeats across its own
  articles (teaser blocks, legal notices: see ``services.dedup.near.SentenceFrequency``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from services.dedup import kernels
from shared.messages import Article, Teaser

SHINGLE_WORDS = 5
NUM_PERM = 128
ANCHORS = 16
MINHASH_SEED = 1
_ACCIDENTAL = 1.0 / 256  # chance that two different 8-bit slots agree
# Fewer agreeing slots than this are no evidence: 128 slots agree by accident ~0.5 times on average,
# and 7 or more about once in a million pairs. Without the floor, 2 accidental agreements between a
# 10-shingle brief and an unrelated 1,000-shingle article imply containment ~1, and a large index
# offers every article such chance candidates through its anchors.
MIN_AGREEING_SLOTS = 7
_SKETCH_SLOT = np.dtype("u1")

_NON_WORD = re.compile(r"[\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")
# Paragraphs are joined with this character, which always ends a sentence (a paragraph cannot run
# into the next one). The record separator does not occur in cleaned text; if it did, it would
# split a sentence, nothing worse.
_PARAGRAPH = "\x1e"

_U64 = np.uint64
# Odd 64-bit multipliers with bits spread over the whole word (a sparse one such as FNV's prime
# gives a polynomial modulo 2^64 more structure: it measured worse on the evaluation stream): of
# code points within a word (xxHash's PRIME64_2), and of word hashes within a shingle or sentence
# (the golden ratio; distinct, so that a one-word sentence's key is not its word's hash).
_CHAR_BASE = _U64(0xC2B2AE3D27D4EB4F)
_WORD_BASE = _U64(0x9E3779B97F4A7C15)
_SHINGLE_BASE = _WORD_BASE

# Generic boilerplate German news sites leak into a body: notices and UI strings. One sentence per
# entry, matched after normalisation; run-time learning (per outlet) covers what is not listed.
GENERIC_BOILERPLATE: tuple[str, ...] = (
    "Der Volltext dieses auf Agenturmeldungen basierenden Artikels steht aus rechtlichen Gründen "
    "nicht mehr zur Verfügung.",
    "Alle Rechte vorbehalten.",
    "Die Redaktion übernimmt keine Haftung für Inhalte externer Seiten.",
    "Wir verwenden Cookies, um Ihnen ein optimales Nutzererlebnis zu bieten.",
    "Diese Meldung ist Teil eines automatisierten Nachrichtenangebots.",
)


def normalize(text: str) -> str:
    """Unicode NFKC, casefolded, punctuation and symbols to spaces, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def tokens(text: str) -> list[str]:
    """The words of ``text`` after normalisation."""
    return normalize(text).split()


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph (split after ., !, ? or : followed by white space)."""
    return [s for s in _SENTENCE_END.split(paragraph.strip()) if s]


def word_shingles(words: Sequence[str], k: int = SHINGLE_WORDS) -> set[str]:
    """The distinct runs of ``k`` consecutive words; none when there are fewer than ``k`` words."""
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def _class_of(char: str) -> int:
    """The class of a character (``kernels.OTHER`` ...): what the regular expressions ``[^\\W_]``
    (str.isalnum) and ``\\s`` (str.isspace) match, a sentence-end mark, or the paragraph break."""
    if char == _PARAGRAPH:
        return kernels.BREAK
    if char in ".!?:":
        return kernels.END
    if char.isalnum():
        return kernels.WORD
    return kernels.SPACE if char.isspace() else kernels.OTHER


@cache
def _class_table() -> np.ndarray:
    # The Basic Multilingual Plane; rarer code points are classified one by one.
    return np.fromiter((_class_of(chr(c)) for c in range(0x10000)), dtype=np.uint8, count=0x10000)


def _classes(points: np.ndarray) -> np.ndarray:
    """The class of each code point (slow: for texts with points beyond the Basic Multilingual Plane)."""
    table = _class_table()
    classes = table.take(np.minimum(points, 0xFFFF))
    for i in np.flatnonzero(points > 0xFFFF):
        classes[i] = _class_of(chr(int(points[i])))
    return classes


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _words(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word hashes, sentence number of each word, end of each word) of an already casefolded text.

    A sentence ends at ., !, ? or : followed by white space, and at a paragraph break.
    """
    points = _code_points(text)
    hashes, sentence_of, ends, classified = kernels.words(points, _class_table(), True, _CHAR_BASE)
    if not classified:  # a code point beyond the table's
        hashes, sentence_of, ends, _ = kernels.words(points, _classes(points), False, _CHAR_BASE)
    return hashes, sentence_of, ends


def _sentence_keys(hashes: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """63-bit keys (they fit a signed 64-bit integer) of the word ranges [first, last)."""
    keys: np.ndarray = kernels.range_keys(hashes, first, last, _WORD_BASE)
    return keys


def sentence_key(sentence: str) -> int:
    """A stable 63-bit key of a sentence: the same for texts with the same normalised words (0 for
    a text without words)."""
    keys = sentence_keys_of([sentence])
    return keys[0] if keys else 0


def sentence_keys_of(sentences: Iterable[str]) -> list[int]:
    """``sentence_key`` of each of ``sentences`` that has words, in order, hashed in one pass.

    A page's teasers are dozens of short sentences: a pass of their own each (normalising, encoding,
    the compiled loops' calls) cost more than fingerprinting the article. Each sentence is hashed
    whole, as one range of words, even where it holds a sentence end.
    """
    texts = [unicodedata.normalize("NFKC", s).casefold() for s in sentences]
    if not texts:
        return []
    hashes, _, ends = _words(_PARAGRAPH.join(texts))
    # Where each text ends in the joined one: a word belongs to the first text ending at or after it.
    text_ends = np.cumsum([len(text) + 1 for text in texts]) - 1
    counts = np.bincount(np.searchsorted(text_ends, ends), minlength=len(texts))
    lasts = np.cumsum(counts)
    with_words = counts > 0
    firsts = (lasts - counts)[with_words]
    return _sentence_keys(hashes, firsts, lasts[with_words]).tolist()


@dataclass(frozen=True, slots=True, eq=False)
class PreparedText:
    """A headline and body normalised and hashed once: everything else is computed from this."""

    content_hash: str
    keys: tuple[int, ...]  # sentence_key of each sentence that has words, in order
    lengths: tuple[int, ...]  # the number of words of each of those sentences
    word_hashes: np.ndarray  # uint64 per word, sentence after sentence
    text: str  # the casefolded NFKC text the words were read from
    word_ends: np.ndarray  # where each word ends in ``text``

    def learnable_keys(self, k: int = SHINGLE_WORDS) -> frozenset[int]:
        """Keys of the sentences that yield shingles (at least ``k`` words): what learning counts."""
        return frozenset(key for key, n in zip(self.keys, self.lengths, strict=True) if n >= k)

    @property
    def sentences(self) -> tuple[tuple[str, ...], ...]:
        """The words of each sentence (slow: for tests and evaluation, not the hot path)."""
        words = [m.group() for m in re.finditer(r"[^\W_]+", self.text)]
        result, at = [], 0
        for n in self.lengths:
            result.append(tuple(words[at : at + n]))
            at += n
        return tuple(result)


def prepare(headline: str, body: Iterable[str]) -> PreparedText:
    """Normalise (NFKC, casefold), split into sentences of words and hash every word once."""
    heading = unicodedata.normalize("NFKC", headline).casefold()
    rest = unicodedata.normalize("NFKC", _PARAGRAPH.join(body)).casefold()
    text = heading + _PARAGRAPH + rest
    hashes, sentence_of, ends = _words(text)
    keys, lengths = kernels.sentence_keys(hashes, sentence_of, _WORD_BASE)
    # The exact hash covers the words only (not the spacing or punctuation around them), and
    # where the headline ends.
    digest = hashlib.blake2b(digest_size=16)
    digest.update(int(np.searchsorted(ends, len(heading), side="right")).to_bytes(4, "little"))
    digest.update(hashes.tobytes())
    return PreparedText(
        content_hash=digest.hexdigest(),
        keys=tuple(keys.tolist()),
        lengths=tuple(lengths.tolist()),
        word_hashes=hashes,
        text=text,
        word_ends=ends,
    )


def content_hash(headline: str, body: Iterable[str]) -> str:
    """Hash of the normalised headline and body: equal for copies differing in case/spacing/punctuation."""
    return prepare(headline, body).content_hash


def sentence_keys(headline: str, body: Iterable[str], k: int = SHINGLE_WORDS) -> frozenset[int]:
    """Keys of the sentences that yield shingles (at least ``k`` words): what learning counts."""
    return prepare(headline, body).learnable_keys(k)


@dataclass(frozen=True, slots=True)
class BoilerplateFilter:
    """Sentences (by ``sentence_key``) that carry no story: shingles are never taken from them."""

    keys: frozenset[int] = frozenset()

    @classmethod
    def of(cls, sentences: Iterable[str]) -> BoilerplateFilter:
        """A filter for the given sentences (matched after normalisation)."""
        return cls(frozenset(sentence_keys_of(sentences)))

    @classmethod
    def learn(cls, documents: Iterable[Sequence[str]], min_documents: int = 3) -> BoilerplateFilter:
        """Sentences found in at least ``min_documents`` of ``documents`` (each a list of paragraphs).

        The documents must be *different stories* (e.g. an outlet's archive without its own
        duplicates): a sentence that recurs across unrelated stories is template, not news.
        """
        seen: Counter[int] = Counter()
        for paragraphs in documents:
            seen.update(set(prepare("", paragraphs).keys))
        return cls(frozenset(key for key, n in seen.items() if n >= min_documents))

    def __or__(self, other: BoilerplateFilter) -> BoilerplateFilter:
        return BoilerplateFilter(self.keys | other.keys)

    def with_keys(self, keys: Iterable[int]) -> BoilerplateFilter:
        """This filter plus more sentence keys (e.g. learnt at run time)."""
        extra = frozenset(keys)
        return self if extra <= self.keys else BoilerplateFilter(self.keys | extra)


DEFAULT_BOILERPLATE = BoilerplateFilter.of(GENERIC_BOILERPLATE)
NO_BOILERPLATE = BoilerplateFilter()


def _kept_sentences(text: PreparedText, boilerplate: BoilerplateFilter, k: int) -> list[bool]:
    drop = boilerplate.keys
    return [n >= k and key not in drop for key, n in zip(text.keys, text.lengths, strict=True)]


def shingle_set(
    headline: str,
    body: Iterable[str],
    boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE,
    k: int = SHINGLE_WORDS,
) -> set[str]:
    """Word k-shingles of each sentence of the headline and body, boilerplate sentences left out.

    Shingles stay inside a sentence, so neither another paragraphing nor a junk line between two
    sentences changes the set; a sentence shorter than ``k`` words (most UI junk) adds nothing.
    The fingerprint sketches exactly this set (as hashes: ``shingle_hashes``).
    """
    text = prepare(headline, body)
    result: set[str] = set()
    for words, kept in zip(text.sentences, _kept_sentences(text, boilerplate, k), strict=True):
        if kept:
            result |= word_shingles(words, k)
    return result


def shingle_hashes(
    text: PreparedText, boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE, k: int = SHINGLE_WORDS
) -> np.ndarray:
    """Distinct 32-bit hashes of the shingles of ``shingle_set`` (uint64 array, ascending).

    A shingle's hash is a polynomial over its k word hashes (mod 2^64, then mixed and cut to 32
    bits), for every window that lies inside one kept sentence.
    """
    kept = np.array(_kept_sentences(text, boilerplate, k), dtype=np.bool_)
    lengths = np.array(text.lengths, dtype=np.int64)
    found: np.ndarray = kernels.shingles(text.word_hashes, lengths, kept, k, _SHINGLE_BASE)
    return found


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedup compares and stores for one article."""

    content_hash: str
    sketch: bytes  # NUM_PERM bytes: 8 bits of each MinHash slot
    size: int  # distinct shingles
    anchors: tuple[int, ...]  # the ANCHORS smallest shingle hashes (uint32), ascending

    @property
    def has_sketch(self) -> bool:
        """False for texts too short for a single shingle: only the exact hash can match them."""
        return self.size > 0


@cache
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # x -> a*x + b (mod 2^32) with odd a is a bijection of the 32-bit hashes; the hashes are mixed
    # already, so these maps give minima as good as random permutations for MinHash.
    rng = np.random.default_rng(MINHASH_SEED)
    a = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)
    return a, b


def minhash_sketch(hashes: np.ndarray, num_perm: int = NUM_PERM) -> bytes:
    """b-bit (8) MinHash of a set given as 32-bit hashes: ``num_perm`` bytes (zeros when empty).
    Each slot keeps 8 bits from all of its minimum's low half, not only its lowest bits."""
    if not len(hashes):
        return bytes(num_perm)
    a, b = _permutations(num_perm)
    sketch: bytes = kernels.minhash(hashes, a, b).tobytes()
    return sketch


def bottom_anchors(hashes: np.ndarray, count: int = ANCHORS) -> tuple[int, ...]:
    """The ``count`` smallest of distinct, ascending shingle hashes (already mixed: a uniform
    sample of the shingles)."""
    return tuple(hashes[:count].tolist())


def fingerprint_prepared(
    text: PreparedText, boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE
) -> Fingerprint:
    """Exact hash and near-duplicate sketch of a prepared text."""
    hashes = shingle_hashes(text, boilerplate)
    return Fingerprint(
        content_hash=text.content_hash,
        sketch=minhash_sketch(hashes),
        size=len(hashes),
        anchors=bottom_anchors(hashes),
    )


def fingerprint(
    headline: str,
    body: Sequence[str],
    boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE,
) -> Fingerprint:
    """Exact hash and near-duplicate sketch of a cleaned headline and its body paragraphs."""
    return fingerprint_prepared(prepare(headline, body), boilerplate)


def teaser_boilerplate(related: Iterable[Teaser]) -> BoilerplateFilter:
    """The sentences of an article's own teasers: by the page's own account, other stories."""
    texts = [t.headline for t in related] + [t.lead for t in related if t.lead]
    return BoilerplateFilter.of(s for text in texts for s in split_sentences(text))


def article_boilerplate(
    article: Article, boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE
) -> BoilerplateFilter:
    """``boilerplate`` plus the sentences of the article's own teasers (``related``)."""
    return boilerplate | teaser_boilerplate(article.related) if article.related else boilerplate


def fingerprint_article(
    article: Article, boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE
) -> Fingerprint:
    """The fingerprint of an article's cleaned headline and body, its teasers' sentences left out."""
    return fingerprint(article.headline, article.body, article_boilerplate(article, boilerplate))


def estimate_jaccard(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two sketches (0.0 for empty or mismatched ones).

    The share of agreeing slots, corrected for the 1/256 chance that two 8-bit slots agree
    although their full MinHash values differ; 0.0 below ``MIN_AGREEING_SLOTS`` agreeing slots.
    """
    if not a or len(a) != len(b):
        return 0.0
    left = np.frombuffer(a, dtype=_SKETCH_SLOT)
    right = np.frombuffer(b, dtype=_SKETCH_SLOT)
    agreeing = int(np.count_nonzero(left == right))
    if agreeing < MIN_AGREEING_SLOTS:
        return 0.0
    return max(0.0, (agreeing / len(left) - _ACCIDENTAL) / (1.0 - _ACCIDENTAL))


def containment_from_jaccard(jaccard: float, size_a: int, size_b: int) -> float:
    """|A ∩ B| / min(|A|, |B|) implied by a Jaccard value and the two set sizes (capped at 1)."""
    if min(size_a, size_b) <= 0:
        return 0.0
    intersection = jaccard / (1.0 + jaccard) * (size_a + size_b)
    return min(1.0, intersection / min(size_a, size_b))
