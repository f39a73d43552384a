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
