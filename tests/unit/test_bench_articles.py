"""The benchmark's input: distinct stories and republished copies in the asked mix."""

from __future__ import annotations

import json

import pytest

from bench.articles import Corpus, batch

pytestmark = pytest.mark.unit

CORPUS = Corpus(
    "test sentences",
    headlines=("Erste Schlagzeile", "Zweite Schlagzeile"),
    sentences=tuple(f"Satz Nummer {n} handelt von Thema {n * 7 % 13}." for n in range(200)),
    lengths=(6, 9, 12),
)


def test_batch_mixes_unique_stories_and_copies_of_earlier_ones() -> None:
    """About a fifth of the items copy an earlier item of the batch, keep its body's sentences (word for
    word or with added residue lines) and come from another outlet; the rest are valid new items."""
    items = batch(CORPUS, 1000, seed=3)
    copies = [item for item in items if item.copy_of is not None]
    assert 150 <= len(copies) <= 250
    for n, item in enumerate(items):
        article = json.loads(item.body)
        assert article["headline"] and article["body"] and article["url"]
        if item.copy_of is None:
            continue
        assert item.copy_of < n
        original = json.loads(items[item.copy_of].body)
        assert article["source"] != original["source"]
        assert set(original["body"]) <= set(article["body"])
        assert original["headline"] in article["headline"]


def test_unique_items_are_different_stories() -> None:
    """No two unique items carry the same body, and every item has its own URL."""
    items = batch(CORPUS, 300, seed=4)
    bodies = [tuple(json.loads(i.body)["body"]) for i in items if i.copy_of is None]
    assert len(set(bodies)) == len(bodies)
    assert len({json.loads(i.body)["url"] for i in items}) == len(items)


def test_batch_is_reproducible_from_its_seed() -> None:
    """The same seed gives the same items; another seed gives other items."""
    assert batch(CORPUS, 50, seed=9) == batch(CORPUS, 50, seed=9)
    assert batch(CORPUS, 50, seed=9) != batch(CORPUS, 50, seed=10)


def test_sentences_dealt_again_are_varied_so_stories_share_no_shingles() -> None:
    """Past the pool's size, unique items still share almost no sentence or 5-word shingle: a
    sentence dealt again has every fourth word replaced by another word of the pool."""
    letters = [a + b for a in "abcdefghijklmnopqrst" for b in "abcdefghijklmnopqrst"]  # 400 suffixes
    words = [f"Wort{x}" for x in letters] + [f"wort{x}" for x in letters]
    sentences = tuple(" ".join(words[(7 * s + w) % 800] for w in range(12)) + "." for s in range(100))
    corpus = Corpus("distinct words", ("Schlagzeile",), sentences, lengths=(10,))
    items = [json.loads(i.body) for i in batch(corpus, 400, seed=5) if i.copy_of is None]
    dealt = [s for item in items for paragraph in item["body"] for s in paragraph.split(". ") if s]
    assert len(dealt) > 10 * len(sentences)  # the pool was dealt many times over
    assert len(set(dealt)) > 0.98 * len(dealt)
    shingles: dict[tuple[str, ...], int] = {}
    for n, item in enumerate(items):
        text = " ".join(item["body"]).replace(".", "").split()
        for gram in {tuple(text[i : i + 5]) for i in range(len(text) - 4)}:
            shingles.setdefault(gram, n)
    shared = sum(
        1
        for n, item in enumerate(items)
        for text in [" ".join(item["body"]).replace(".", "").split()]
        for gram in {tuple(text[i : i + 5]) for i in range(len(text) - 4)}
        if shingles[gram] != n
    )
    assert shared < 0.01 * len(shingles)
    first = json.loads(batch(corpus, 1, seed=5)[0].body)["body"]
    # The first deal: the sentences as they are.
    assert all(s.rstrip(".") + "." in sentences for p in first for s in p.split(". "))
