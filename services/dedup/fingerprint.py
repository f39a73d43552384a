"""Fingerprints of an article's cleaned text: an exact content hash and a near-duplicate sketch.

Text is compared as a set of *word k-shingles* (k = 5) taken inside each sentence of the headline
and body. From that set a fingerprint keeps:

* ``sketch``: a MinHash (datasketch, ``affine32`` scheme, 128 permutations) of which only the low
  8 bits of each slot are kept (b-bit MinHash): two slots then agree by accident with
  probability 1/256, which ``estimate_jaccard`` corrects for, and an index stores 128 bytes per
  article instead of 512;
* ``size``: the number of distinct shingles, so that containment (how much of the shorter text
  the other one holds: what a truncated copy keeps) follows from the estimated Jaccard;
* ``anchors``: the ``ANCHORS`` smallest shingle hashes (a bottom-s sample). A shingle that a
  truncated copy keeps and that is among the original's smallest is also among the copy's
  smallest, so truncations share anchors with their original: the index uses anchors as its
  candidate keys. Banding the MinHash instead would need one-slot bands to reach the low Jaccard
  of a cut and edited copy (down to ~0.2), and measured worse: of the 6,818 same-story pairs of
  the generated evaluation stream, 12 one-slot bands left 3 pairs without a shared key and 16 left
  2, while 12 or 16 anchors left none.

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
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from shared.messages import Article, Teaser

SHINGLE_WORDS = 5
NUM_PERM = 128
ANCHORS = 16
MINHASH_SEED = 1
# datasketch's scheme whose permutations are bijections on uint32.
_SCHEME = "affine32"
_SKETCH_SLOT = np.dtype("u1")
_ACCIDENTAL = 1.0 / 256  # chance that two different 8-bit slots agree

_NON_WORD = re.compile(r"[\W_]+")
_TOKEN = re.compile(r"[^\W_]+|[.!?:](?=\s)")
_ENDS = frozenset(".!?:")
# Odd 64-bit multiplier of the shingle polynomial (the golden-ratio constant).
_POLY = np.uint64(0x9E3779B97F4A7C15)
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")

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


def sentence_key(normal_sentence: str) -> int:
    """A stable 63-bit key of an already normalised sentence (fits a signed 64-bit integer)."""
    digest = hashlib.blake2b(normal_sentence.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A headline and body normalised once: everything else is computed from this."""

    content_hash: str
    sentences: tuple[tuple[str, ...], ...]  # the words of each non-empty sentence, in order
    keys: tuple[int, ...]  # sentence_key of each sentence

    def learnable_keys(self, k: int = SHINGLE_WORDS) -> frozenset[int]:
        """Keys of the sentences that yield shingles (at least ``k`` words): what learning counts."""
        return frozenset(key for key, words in zip(self.keys, self.sentences, strict=True) if len(words) >= k)


def _sentence_words(paragraph: str) -> Iterable[list[str]]:
    # One regex pass per paragraph: word runs, and sentence ends (., !, ?, : before white space).
    words: list[str] = []
    for token in _TOKEN.findall(unicodedata.normalize("NFKC", paragraph).casefold()):
        if token in _ENDS:
            if words:
                yield words
            words = []
        else:
            words.append(token)
    if words:
        yield words


def prepare(headline: str, body: Iterable[str]) -> PreparedText:
    """Normalise (NFKC, casefold, punctuation dropped) and split into sentences of words."""
    heading = list(_sentence_words(headline))
    rest = [words for paragraph in body for words in _sentence_words(paragraph)]
    normal_heading = " ".join(" ".join(w) for w in heading)
    normal_body = " ".join(" ".join(w) for w in rest)
    digest = hashlib.blake2b(f"{normal_heading}\n{normal_body}".encode(), digest_size=16)
    sentences = tuple(tuple(w) for w in (*heading, *rest))
    return PreparedText(
        content_hash=digest.hexdigest(),
        sentences=sentences,
        keys=tuple(sentence_key(" ".join(w)) for w in sentences),
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
        return cls(frozenset(sentence_key(n) for n in map(normalize, sentences) if n))

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


def _informative(text: PreparedText, boilerplate: BoilerplateFilter) -> list[tuple[str, ...]]:
    if not boilerplate.keys:
        return list(text.sentences)
    return [w for w, key in zip(text.sentences, text.keys, strict=True) if key not in boilerplate.keys]


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
    result: set[str] = set()
    for words in _informative(prepare(headline, body), boilerplate):
        result |= word_shingles(words, k)
    return result


_WORD_HASHES: dict[str, int] = {}
_WORD_CACHE_LIMIT = 500_000


def _word_hashes(words: Sequence[str]) -> list[int]:
    # Words repeat within and across articles: caching their CRC-32 halves the hashing cost.
    # The cache is emptied when full, which keeps its memory bounded (~50 MB at the limit).
    cache = _WORD_HASHES
    if len(cache) > _WORD_CACHE_LIMIT:
        cache.clear()
    hashes = []
    for word in words:
        value = cache.get(word)
        if value is None:
            value = cache[word] = zlib.crc32(word.encode("utf-8"))
        hashes.append(value)
    return hashes


def shingle_hashes(
    text: PreparedText, boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE, k: int = SHINGLE_WORDS
) -> np.ndarray:
    """Distinct 32-bit hashes of the shingles of ``shingle_set``, computed without joining strings.

    Each word is hashed once (CRC-32: stable across processes, unlike hash()); a shingle's hash
    is a polynomial over its k word hashes (mod 2^64, folded to 32 bits), vectorised over the
    whole text, keeping only windows that lie inside one sentence.
    """
    sentences = [w for w in _informative(text, boilerplate) if len(w) >= k]
    if not sentences:
        return np.empty(0, dtype=np.uint64)
    words = [word for sentence in sentences for word in sentence]
    word_hashes = np.array(_word_hashes(words), dtype=np.uint64)
    sentence_of = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    windows = len(words) - k + 1
    combined = np.zeros(windows, dtype=np.uint64)
    for offset in range(k):
        combined = combined * _POLY + word_hashes[offset : offset + windows]
    combined = combined[sentence_of[:windows] == sentence_of[k - 1 :]]
    return np.unique((combined ^ (combined >> np.uint64(32))) & np.uint64(0xFFFFFFFF))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedup compares and stores for one article."""

    content_hash: str
    sketch: bytes  # NUM_PERM bytes: the low 8 bits of each MinHash slot
    size: int  # distinct shingles
    anchors: tuple[int, ...]  # the ANCHORS smallest mixed shingle hashes (uint32), ascending

    @property
    def has_sketch(self) -> bool:
        """False for texts too short for a single shingle: only the exact hash can match them."""
        return self.size > 0


@lru_cache(maxsize=4)
def _permutations(num_perm: int) -> np.ndarray:
    # Generating permutations costs more than hashing one article: do it once per process.
    return np.asarray(MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=_SCHEME).permutations)


def minhash_sketch(hashes: np.ndarray, num_perm: int = NUM_PERM) -> bytes:
    """b-bit (8) MinHash of a set given as uint32 hashes: ``num_perm`` bytes."""
    sketch = MinHash(num_perm=num_perm, permutations=_permutations(num_perm), scheme=_SCHEME, hashfunc=int)
    sketch.update_batch(hashes.tolist())
    return np.asarray(sketch.hashvalues & 0xFF, dtype=_SKETCH_SLOT).tobytes()


def bottom_anchors(hashes: np.ndarray, count: int = ANCHORS) -> tuple[int, ...]:
    """The ``count`` smallest hashes after a multiplicative mix (Fibonacci hashing + xor-shift).

    The mix makes the sample independent of CRC-32's structure; any fixed bijection would do,
    as long as every process uses the same one.
    """
    mixed = (hashes * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    mixed ^= mixed >> np.uint64(16)
    if len(mixed) > count:
        mixed = np.partition(mixed, count)[:count]
    return tuple(int(x) for x in np.sort(mixed))


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


def fingerprint_article(
    article: Article, boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE
) -> Fingerprint:
    """The fingerprint of an article's cleaned headline and body, its teasers' sentences left out."""
    if article.related:
        boilerplate = boilerplate | teaser_boilerplate(article.related)
    return fingerprint(article.headline, article.body, boilerplate)


def estimate_jaccard(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two sketches (0.0 for empty or mismatched ones).

    The share of agreeing slots, corrected for the 1/256 chance that two 8-bit slots agree
    although their full MinHash values differ.
    """
    if not a or len(a) != len(b):
        return 0.0
    left = np.frombuffer(a, dtype=_SKETCH_SLOT)
    right = np.frombuffer(b, dtype=_SKETCH_SLOT)
    agree = float(np.count_nonzero(left == right)) / len(left)
    return max(0.0, (agree - _ACCIDENTAL) / (1.0 - _ACCIDENTAL))


def containment_from_jaccard(jaccard: float, size_a: int, size_b: int) -> float:
    """|A ∩ B| / min(|A|, |B|) implied by a Jaccard value and the two set sizes (capped at 1)."""
    if min(size_a, size_b) <= 0:
        return 0.0
    intersection = jaccard / (1.0 + jaccard) * (size_a + size_b)
    return min(1.0, intersection / min(size_a, size_b))
