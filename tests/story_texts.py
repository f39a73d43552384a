"""Made-up stories for dedup tests: distinct texts that share no 5-word run, and copies of them.

Words are random syllable strings from a seeded generator, so two stories with different seeds have
(practically) no shingle in common, while a copy keeps whatever sentences it is given.
"""

from __future__ import annotations

import random

from shared.messages import Article
from tests import factories

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "bi", "da", "fe", "go", "hu", "ja", "pe", "zu")


def story_sentences(seed: int, sentences: int = 10, words: int = 12) -> list[str]:
    """``sentences`` sentences of ``words`` made-up words each, the same for the same seed."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))

    return [" ".join(word() for _ in range(words)).capitalize() + "." for _ in range(sentences)]


def story_article(article_id: str, seed: int, *, keep: float = 1.0, **overrides: object) -> Article:
    """An article with story ``seed`` (its first ``keep`` share of sentences), one sentence a paragraph."""
    sentences = story_sentences(seed)
    kept = sentences[: max(1, round(len(sentences) * keep))]
    values: dict[str, object] = {"headline": f"Story {seed}", "body": tuple(kept), "related": ()}
    values.update(overrides)
    return factories.article(article_id, **values)
