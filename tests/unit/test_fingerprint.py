"""Fingerprints: normalisation, shingles, exact hash, sketches and boilerplate filtering."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.dedup import kernels
from services.dedup.fingerprint import (
    _CHAR_BASE,  # the word loop's inputs and its wrapper, checked against each other below
    ANCHORS,
    NO_BOILERPLATE,
    NUM_PERM,
    BoilerplateFilter,
    Fingerprint,
    _class_of,
    _words,
    article_boilerplate,
    containment_from_jaccard,
    content_hash,
    estimate_jaccard,
    fingerprint,
    fingerprint_article,
    normalize,
    sentence_key,
    sentence_keys,
    sentence_keys_of,
    shingle_set,
    word_shingles,
)
from shared.messages import Article, Teaser

pytestmark = pytest.mark.unit

HEADLINE = "Stadtrat beschließt neuen Radweg entlang der Uferstraße"
BODY = (
    "Der Stadtrat hat am Dienstagabend mit großer Mehrheit den Bau eines neuen Radwegs entlang "
    "der Uferstraße beschlossen. Die Strecke soll rund vier Kilometer lang werden und zwei "
    "Wohngebiete mit dem Bahnhof verbinden.",
    "Die Kosten von etwa drei Millionen Euro teilen sich Stadt und Land. Mit dem Bau soll im "
    "kommenden Frühjahr begonnen werden, die Fertigstellung ist für den Herbst geplant.",
)


def test_normalize_folds_case_width_and_punctuation() -> None:
    """NFKC folds compatibility characters, casefold folds ß, punctuation becomes spacing."""
    assert normalize("  STRAẞE,\u00a0ﬁnal!!  Größe ") == "strasse final grösse"


def test_content_hash_stable_under_whitespace_case_and_punctuation() -> None:
    """The exact hash ignores case, spacing and punctuation, so trivial re-encodings collide."""
    respaced = tuple("  " + p.upper().replace(" ", "   ") + "\n" for p in BODY)
    assert content_hash(HEADLINE.lower() + " !", respaced) == content_hash(HEADLINE, BODY)


def test_content_hash_changes_when_a_word_changes() -> None:
    """One changed word gives another exact hash."""
    edited = (BODY[0].replace("vier", "fünf"), BODY[1])
    assert content_hash(HEADLINE, edited) != content_hash(HEADLINE, BODY)


def test_word_shingles_need_k_words() -> None:
    """A run shorter than k words yields no shingle; k words yield exactly one."""
    assert word_shingles(["a", "b", "c", "d"], 5) == set()
    assert word_shingles(["a", "b", "c", "d", "e"], 5) == {"a b c d e"}


def test_shingles_ignore_paragraphing_and_junk_lines() -> None:
    """Re-paragraphing the body or inserting a short junk line leaves the shingle set unchanged."""
    merged = (" ".join(BODY),)
    with_junk = (BODY[0], "Textgröße ändern:", "(V.Keller--ABC)", BODY[1])
    reference = shingle_set(HEADLINE, BODY)
    assert shingle_set(HEADLINE, merged) == reference
    assert shingle_set(HEADLINE, with_junk) == reference


def test_boilerplate_sentence_contributes_no_shingles() -> None:
    """A sentence in the filter is left out, whatever its case or punctuation."""
    notice = "Alle Rechte vorbehalten, auch die der weiteren Verbreitung."
    filter_ = BoilerplateFilter.of([notice.upper()])
    with_notice = (*BODY, notice)
    assert shingle_set(HEADLINE, with_notice, filter_) == shingle_set(HEADLINE, BODY, filter_)
    assert shingle_set(HEADLINE, with_notice, NO_BOILERPLATE) > shingle_set(HEADLINE, BODY)


def test_learn_finds_sentences_shared_by_many_documents() -> None:
    """Learning keeps sentences present in at least min_documents distinct documents only."""
    shared = "Dieser Satz steht unter jedem Artikel des Hauses."
    docs = [(f"Eigener Inhalt Nummer {i} mit genug Worten.", shared) for i in range(3)]
    learnt = BoilerplateFilter.learn(docs, min_documents=3)
    assert learnt == BoilerplateFilter.of([shared])
    assert BoilerplateFilter.learn(docs, min_documents=4).keys == frozenset()


def test_fingerprint_shape() -> None:
    """A fingerprint holds an 8-bit slot per permutation, the set size and sorted anchors."""
    fp = fingerprint(HEADLINE, BODY)
    assert len(fp.sketch) == NUM_PERM
    assert fp.size == len(shingle_set(HEADLINE, BODY))
    assert len(fp.anchors) == min(ANCHORS, fp.size)
    assert list(fp.anchors) == sorted(fp.anchors)


def test_text_too_short_for_a_shingle_has_no_sketch() -> None:
    """Below k words there is nothing to compare approximately: only the exact hash remains."""
    fp = fingerprint("Kurz", ("Nur drei Worte.",))
    assert not fp.has_sketch
    assert fp.anchors == ()


def _fingerprint_in_another_process(env: dict[str, str]) -> tuple[str, str]:
    """What another interpreter with ``env`` prints of the test text's fingerprint (its last line
    of output), and all it printed."""
    code = (
        "from services.dedup.fingerprint import fingerprint;"
        f"fp = fingerprint({HEADLINE!r}, {BODY!r});"
        "print(fp.content_hash, fp.sketch.hex(), fp.size, fp.anchors)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip().splitlines()[-1], done.stdout + done.stderr


def _printed(fp: Fingerprint) -> str:
    return f"{fp.content_hash} {fp.sketch.hex()} {fp.size} {fp.anchors}"


def test_fingerprint_is_deterministic_across_processes() -> None:
    """Another interpreter with another hash seed computes the same fingerprint (replicas agree)."""
    printed, _ = _fingerprint_in_another_process({"PYTHONHASHSEED": "12345"})
    assert printed == _printed(fingerprint(HEADLINE, BODY))


def test_a_process_that_cannot_cache_the_compiled_loops_still_fingerprints() -> None:
    """Where numba finds no folder to cache machine code in (a read-only install), the loops are
    compiled without a cache: the process warns, starts, and computes the same fingerprint."""
    # numba's locator of caches in zip archives only: none for a source file, as with no writable folder
    printed, output = _fingerprint_in_another_process({"NUMBA_CACHE_LOCATOR_CLASSES": "ZipCacheLocator"})
    assert printed == _printed(fingerprint(HEADLINE, BODY))
    assert "dedup.fingerprint_not_cached" in output


@pytest.mark.parametrize("length", [65_535, 65_536, 65_537])
def test_texts_as_long_as_the_class_table_are_read_like_any_other(length: int) -> None:
    """A text of as many code points as the class table has entries (65,536) is classified by
    value like any other, not taken for a text with one class per point."""
    words = "Wort " * (length // 5 + 1)
    text = ("Ein Satz. " + words)[:length]
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    classes = np.array([_class_of(c) for c in text], dtype=np.uint8)
    expected = kernels.words(points, classes, False, _CHAR_BASE)
    found = _words(text)
    for got, want in zip(found, expected[:3], strict=True):
        assert np.array_equal(got, want)


def test_fingerprints_keep_the_values_the_index_holds() -> None:
    """The fingerprint of a known text and the keys of known sentences are exactly those computed
    when the index format was set (with numpy array operations, before the compiled loops): a
    change of any hash would make every indexed article and learnt template unreachable."""
    fp = fingerprint(HEADLINE, BODY)
    assert fp.content_hash == "fce6fe1588139936764c26bc6b5033a3"
    assert fp.sketch.hex() == (
        "d363fdd2d105f385760509bf18afce6b60e77e595f6b36ad91a2dc2b56a225e613cd2c6da87213fa1f350808c5f6c0a2"
        "cb9fe8eddbd59e9f34f23cec389255abd97cbb0b9e812e8d1e8bb54e30ff572dc1feb9b67dd9b8769176d67c310d63"
        "2543841051932af7cc734a7bf90d40f1ca39372477b388639298240dd2843b849d"
    )
    assert fp.size == 47
    assert fp.anchors == (
        158369657, 308123464, 352374796, 385343907, 479587026, 590331307, 598499994, 650627261,
        832702409, 936017006, 1004424974, 1082553033, 1150223811, 1349404024, 1390897734, 1397407186,
    )  # fmt: skip
    assert sentence_keys_of([HEADLINE, "Ein Satz. Noch einer!"]) == [6356846322261130824, 8860340232506697268]


def test_sketch_estimates_jaccard_of_identical_and_disjoint_texts() -> None:
    """Identical sets agree on every slot; unrelated texts on (almost) none."""
    fp = fingerprint(HEADLINE, BODY)
    other = fingerprint(
        "Hochwasser in den Alpen",
        (
            "Nach tagelangem Regen sind mehrere Flüsse in den Alpen über die Ufer getreten und "
            "haben Straßen sowie Keller überflutet.",
        ),
    )
    assert estimate_jaccard(fp.sketch, fp.sketch) == 1.0
    assert estimate_jaccard(fp.sketch, other.sketch) < 0.05


def test_containment_from_jaccard_of_a_half_sized_subset() -> None:
    """A subset of half the size has Jaccard 0.5 and containment 1."""
    assert containment_from_jaccard(0.5, 100, 50) == pytest.approx(1.0)
    assert containment_from_jaccard(0.0, 100, 50) == 0.0
    assert containment_from_jaccard(0.5, 0, 50) == 0.0


def test_sentence_keys_count_only_sentences_that_yield_shingles() -> None:
    """Sentences shorter than k words are not counted for learning."""
    keys = sentence_keys("Kurzer Titel", ("Zu kurz hier.", "Dieser Satz hat ganz sicher genug Worte."))
    assert len(keys) == 1


def _article_with(body: tuple[str, ...], related: tuple[Teaser, ...]) -> Article:
    return Article(
        id="a1",
        received_at=datetime(2026, 11, 5, tzinfo=UTC),
        format="text",
        headline=HEADLINE,
        body=body,
        related=related,
    )


def test_fingerprint_article_leaves_out_its_own_teasers() -> None:
    """Body text equal to one of the article's teasers (a leaked teaser block) is not shingled."""
    teaser = Teaser(
        headline="Regierung plant Reform der Grundsteuer",
        lead="Die Regierung will die Grundsteuer im nächsten Jahr grundlegend neu regeln.",
    )
    leaked = (*BODY, teaser.headline, teaser.lead)
    article = _article_with(leaked, (teaser,))
    with_teaser, without = fingerprint_article(article), fingerprint(HEADLINE, BODY)
    assert (with_teaser.sketch, with_teaser.size, with_teaser.anchors) == (
        without.sketch,
        without.size,
        without.anchors,
    )


# Words, sentence ends, the paragraph separator, characters past the BMP (an emoji, a mathematical
# bold A), a ligature NFKC splits, and bare punctuation.
_SENTENCE_PARTS = st.sampled_from(
    ["Wort", "ÄÖÜ", "straße", "1", ".", ": ", "! ", " ", "\x1e", "😀", "\U0001d400", "_", "\ufb01"]
)


@given(st.lists(st.lists(_SENTENCE_PARTS, max_size=8).map("".join), max_size=12))
def test_sentences_hashed_together_get_the_keys_each_gets_alone(sentences: list[str]) -> None:
    """Hashing many sentences in one pass (a page's teasers) gives each the key it gets alone, in
    order; sentences without words get none."""
    alone = [sentence_key(s) for s in sentences if normalize(s)]
    assert sentence_keys_of(sentences) == alone


def test_teaser_sentences_are_boilerplate_of_their_article() -> None:
    """Every sentence of an article's teasers (headline and lead) is left out of its fingerprint."""
    teasers = (
        Teaser(headline="Neuer Streit um den Haushalt", lead="Die Koalition ringt. Ein Treffen folgt!"),
        Teaser(headline="Wetter: Sturm erwartet"),
    )
    article = _article_with(BODY, teasers)
    expected = {
        sentence_key(s)
        for s in (
            "Neuer Streit um den Haushalt",
            "Die Koalition ringt.",
            "Ein Treffen folgt!",
            "Wetter:",
            "Sturm erwartet",
        )
    }
    assert expected <= article_boilerplate(article, NO_BOILERPLATE).keys
    assert len(article_boilerplate(article, NO_BOILERPLATE).keys) == len(expected)
