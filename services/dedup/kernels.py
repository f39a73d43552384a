"""The fingerprint's loops over code points, words and shingles, compiled with numba.

Dedup fingerprints every article it judges. Written as numpy array operations, that was some 60
calls per article, each with microseconds of overhead on arrays of a few hundred elements: the
largest part of a dedup process's own CPU. Here each step is one loop, compiled once per machine
(``cache=True`` keeps the machine code in ``NUMBA_CACHE_DIR`` when it is set, else beside this file,
else in the user's cache folder).

Where numba finds no folder it may write to (a read-only install, no writable home, no
``NUMBA_CACHE_DIR``), the loops are compiled at every start instead (~6 s), with a warning: a
service must not fail to start over a cache.

The arithmetic is exactly ``services.dedup.fingerprint``'s (its module doc): polynomials modulo
2^64 with fixed odd bases, MurmurHash3's fmix64 as finaliser, multiply-add maps modulo 2^32 as
MinHash permutations. Every value is a numpy unsigned integer, so it wraps around as intended and
never becomes a float; the results are bit for bit those of the array version they replace
(tests/unit/test_fingerprint.py holds reference values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import structlog
from numba import njit

log = structlog.stdlib.get_logger("newswire.dedup")
_uncached: list[str] = []  # the functions compiled without a cache, warned about once

# Character classes (fingerprint._class_of): other, word, space, sentence-end mark, paragraph break.
OTHER, WORD, SPACE, END, BREAK = range(5)

_SHIFT_33 = np.uint64(33)
_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_HALF = np.uint64(32)
_BYTE_SHIFT = np.uint32(8)
_BYTE = np.uint32(0xFF)
_NO_MINIMUM = np.uint32(0xFFFFFFFF)


def _compiled(function: Callable[..., Any]) -> Any:
    """``function`` compiled to machine code on its first call, cached on disk when numba can."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError as error:  # numba: "cannot cache function ...: no locator available"
        if not _uncached:
            log.warning(
                "dedup.fingerprint_not_cached",
                error=str(error),
                effect="the fingerprint loops compile at every start (~6 s)",
                fix="set NUMBA_CACHE_DIR to a folder this process may write to",
            )
        _uncached.append(function.__name__)
        return njit(nogil=True)(function)


@_compiled
def mix(x: np.uint64) -> np.uint64:
    """MurmurHash3's fmix64: every output bit depends on every input bit."""
    x ^= x >> _SHIFT_33
    x *= _MIX_1
    x ^= x >> _SHIFT_33
    x *= _MIX_2
    x ^= x >> _SHIFT_33
    return x


@_compiled
def words(
    points: np.ndarray, classes: np.ndarray, by_value: bool, base: np.uint64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per word (a maximal run of word characters): its hash (the mixed polynomial over its code
    points, the first one's power 0), its sentence number, and where it ends.

    ``classes`` holds the class of each code point, or (``by_value``) of each code point value of
    the Basic Multilingual Plane. Then the last result is False if a point lies beyond it: the
    caller classifies those (rare) and asks again.

    Sentences are counted by the sentence ends before the word: a paragraph break, or an end mark
    followed by white space.
    """
    size = len(points)
    if by_value:
        for i in range(size):
            if points[i] >= len(classes):
                return np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0, np.int64), False
    hashes = np.empty(size // 2 + 1, dtype=np.uint64)
    sentence_of = np.empty(size // 2 + 1, dtype=np.int64)
    ends = np.empty(size // 2 + 1, dtype=np.int64)
    count = 0
    sentence = 0
    i = 0
    while i < size:
        kind = classes[points[i]] if by_value else classes[i]
        if kind == WORD:
            value = _ZERO
            power = _ONE
            while i < size and (classes[points[i]] if by_value else classes[i]) == WORD:
                value += np.uint64(points[i]) * power
                power *= base
                i += 1
            hashes[count] = mix(value)
            sentence_of[count] = sentence
            ends[count] = i
            count += 1
            continue
        if kind == BREAK or (
            kind == END and i + 1 < size and (classes[points[i + 1]] if by_value else classes[i + 1]) == SPACE
        ):
            sentence += 1
        i += 1
    return hashes[:count], sentence_of[:count], ends[:count], True


@_compiled
def range_keys(hashes: np.ndarray, firsts: np.ndarray, lasts: np.ndarray, base: np.uint64) -> np.ndarray:
    """63-bit keys of the word ranges [first, last): the mixed polynomial over their hashes, >> 1."""
    keys = np.empty(len(firsts), dtype=np.uint64)
    for j in range(len(firsts)):
        value = _ZERO
        power = _ONE
        for t in range(firsts[j], lasts[j]):
            value += hashes[t] * power
            power *= base
        keys[j] = mix(value) >> _ONE
    return keys


@_compiled
def sentence_keys(
    hashes: np.ndarray, sentence_of: np.ndarray, base: np.uint64
) -> tuple[np.ndarray, np.ndarray]:
    """The key (``range_keys``) and the number of words of each run of words with one sentence
    number, in order."""
    firsts = np.empty(len(sentence_of), dtype=np.int64)
    lasts = np.empty(len(sentence_of), dtype=np.int64)
    count = 0
    for w in range(len(sentence_of)):
        if w == 0 or sentence_of[w] != sentence_of[w - 1]:
            if count:
                lasts[count - 1] = w
            firsts[count] = w
            count += 1
    if count:
        lasts[count - 1] = len(sentence_of)
    return range_keys(hashes, firsts[:count], lasts[:count], base), lasts[:count] - firsts[:count]


@_compiled
def shingles(
    hashes: np.ndarray, lengths: np.ndarray, kept: np.ndarray, k: int, base: np.uint64
) -> np.ndarray:
    """Distinct 32-bit hashes (ascending, as uint64) of the k-word windows inside each kept
    sentence: the polynomial over the window's word hashes (the last one's power 0), mixed, top half.
    """
    total = 0
    for s in range(len(lengths)):
        if kept[s] and lengths[s] >= k:
            total += lengths[s] - k + 1
    found = np.empty(total, dtype=np.uint64)
    count = 0
    at = 0
    for s in range(len(lengths)):
        n = lengths[s]
        if kept[s] and n >= k:
            for i in range(at, at + n - k + 1):
                value = hashes[i]
                for offset in range(1, k):
                    value = value * base + hashes[i + offset]
                found[count] = mix(value) >> _HALF
                count += 1
        at += n
    found.sort()
    distinct = 0
    for i in range(count):
        if i == 0 or found[i] != found[distinct - 1]:
            found[distinct] = found[i]
            distinct += 1
    return found[:distinct]


@_compiled
def minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per permutation x -> a*x + b (mod 2^32), 8 bits of the minimum over ``hashes`` (32-bit values)."""
    slots = len(a)
    minima = np.full(slots, _NO_MINIMUM, dtype=np.uint32)
    for j in range(len(hashes)):
        x = np.uint32(hashes[j])
        for i in range(slots):
            value = np.uint32(a[i] * x + b[i])  # numba computes in 64 bits: keep the low 32
            if value < minima[i]:
                minima[i] = value
    sketch = np.empty(slots, dtype=np.uint8)
    for i in range(slots):
        m = minima[i]
        sketch[i] = np.uint8((m ^ (m >> _BYTE_SHIFT)) & _BYTE)
    return sketch
