"""The tagging core on whole articles, including the seed page's expected reading."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.tagger.service import tag_many_received
from services.tagger.tagging import Tagger, topic_catalogue
from services.tagger.topics import TOP_LEVEL_SLUGS
from shared.messages import Article, ArticleReceived, Tags

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tagging"
SEED = json.loads((FIXTURES / "000_f9cc83e86fb4ea15.expected.json").read_text(encoding="utf-8"))
SLUG = re.compile(r"[a-z]+(-[a-z]+)*|[a-z]+:[A-Za-z0-9]+(-[a-z0-9]+)*")


def make_article(headline: str, body: tuple[str, ...], article_id: str = "a1") -> Article:
    return Article(
        id=article_id,
        received_at=datetime(2026, 11, 27, tzinfo=UTC),
        format="text",
        headline=headline,
        body=body,
    )


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


@pytest.fixture(scope="module")
def seed_tags(tagger: Tagger) -> Tags:
    return tagger.tag(make_article(SEED["headline"], tuple(SEED["body_paragraphs"])))


def _mentions(tags: Tags, entity_type: str) -> set[str]:
    return {e.text for e in tags.entities if e.type == entity_type}


def test_seed_language(seed_tags: Tags) -> None:
    """The seed page is German."""
    assert seed_tags.language == SEED["language"]


@pytest.mark.parametrize(
    ("kind", "entity_type"), [("people", "PER"), ("places", "LOC"), ("organisations", "ORG")]
)
def test_seed_entities(seed_tags: Tags, kind: str, entity_type: str) -> None:
    """Every person, place and organisation of the expected reading is found with its type.

    A name given with its abbreviation, "Long Name (ABBR)", is found as both parts.
    """
    found = _mentions(seed_tags, entity_type)
    for expected in SEED["entities_expected_at_least"][kind]:
        parts = re.fullmatch(r"(.+) \((.+)\)", expected)
        wanted = {parts.group(1), parts.group(2)} if parts else {expected}
        assert wanted <= found, f"{expected} not found among {sorted(found)}"


def test_seed_top_level_topics(seed_tags: Tags) -> None:
    """The expected top-level IPTC topics are among the seed's subjects."""
    codes = {s.code for s in seed_tags.subjects if s.level == 1}
    for expected in SEED["iptc_top_level_expected"]:
        code = re.search(r"medtop:\d+", expected)
        assert code is not None
        assert code.group() in codes


def test_seed_topics_follow_subjects_and_entities(seed_tags: Tags) -> None:
    """The followable topics are the top-level slugs plus the canonical entities' slugs."""
    assert "politics" in seed_tags.topics
    assert {"place:KZ", "place:RU", "place:UA", "person:vladimir-putin", "org:rosatom"} <= set(
        seed_tags.topics
    )
    top_slugs = [s.slug for s in seed_tags.subjects if s.level == 1]
    assert seed_tags.topics[: len(top_slugs)] == tuple(top_slugs)
    assert len(set(seed_tags.topics)) == len(seed_tags.topics)


def test_entity_offsets_index_the_published_fields(tagger: Tagger) -> None:
    """Headline entities index the headline, body entities the paragraphs joined by a blank line."""
    article = make_article(SEED["headline"], tuple(SEED["body_paragraphs"]))
    tags = tagger.tag(article)
    assert any(e.field == "headline" for e in tags.entities)
    for entity in tags.entities:
        source = article.headline if entity.field == "headline" else article.body_text
        assert source[entity.start : entity.end] == entity.text


def test_same_place_same_slug_across_languages(tagger: Tagger) -> None:
    """A German and an English article about Kazakhstan both route to place:KZ."""
    german = tagger.tag(make_article("Putin besucht Kasachstan", ("Der Präsident reiste nach Kasachstan.",)))
    english = tagger.tag(
        make_article("Putin visits Kazakhstan", ("The president travelled to Kazakhstan.",), "a2")
    )
    assert german.language == "de" and english.language == "en"
    assert "place:KZ" in german.topics and "place:KZ" in english.topics


def test_football_results_are_not_politics(tagger: Tagger) -> None:
    """A match report follows sport, not politics."""
    tags = tagger.tag(
        make_article(
            "Bayern gewinnt 3:1 gegen Dortmund",
            ("Die Tore fielen in der zweiten Halbzeit. Der Trainer lobte seine Mannschaft.",),
        )
    )
    assert "sport" in tags.topics
    assert "politics" not in tags.topics


def test_every_topic_is_a_redis_safe_slug(seed_tags: Tags) -> None:
    """Topic slugs are lowercase words with hyphens, or kind:ID."""
    assert all(SLUG.fullmatch(slug) for slug in seed_tags.topics)


def test_tagging_is_deterministic(tagger: Tagger) -> None:
    """The same article always gets the same tags."""
    article = make_article(SEED["headline"], tuple(SEED["body_paragraphs"]))
    assert tagger.tag(article) == tagger.tag(article)


def test_catalogue_lists_topics_and_entities_once() -> None:
    """The catalogue has every top-level slug and canonical entity slug, each once, all safe."""
    catalogue = topic_catalogue()
    slugs = [slug for slug, _ in catalogue]
    assert len(slugs) == len(set(slugs))
    assert set(TOP_LEVEL_SLUGS.values()) <= set(slugs)
    assert {"place:KZ", "place:geonames-1526273", "person:vladimir-putin", "org:csto"} <= set(slugs)
    assert all(SLUG.fullmatch(slug) and description for slug, description in catalogue)


def test_articles_tagged_together_get_the_tags_they_get_alone(tagger: Tagger) -> None:
    """``tag_many`` reads several articles in one recogniser pass; each gets exactly its own tags."""
    articles = [
        make_article(SEED["headline"], tuple(SEED["body_paragraphs"]), "seed"),
        make_article("Putin besucht Kasachstan", ("Der Präsident reiste nach Astana und Almaty.",), "kz"),
        make_article("Bayern gewinnt gegen Dortmund", ("Die Tore fielen spät. Kane traf doppelt.",), "fb"),
        make_article("", ("",), "empty"),
    ]
    together = tagger.tag_many(articles)
    assert together == [tagger.tag(article) for article in articles]
    assert any(tags.entities for tags in together)  # the comparison covers found entities


def test_one_article_that_breaks_tagging_fails_alone(tagger: Tagger) -> None:
    """When tagging a chunk fails, each article is tagged on its own: the bad one gets its error in its
    place, the others their tags."""

    class BreaksOnOne(Tagger):
        def __init__(self) -> None:  # shares the built models; nothing to load again
            self.__dict__.update(tagger.__dict__)

        def tag_many(self, articles: Sequence[Article]) -> list[Tags]:
            if any(article.id == "bad" for article in articles):
                raise ValueError("cannot tag this one")
            return super().tag_many(articles)

    good = make_article("Putin besucht Kasachstan", ("Der Präsident reiste nach Astana.",), "good")
    bad = make_article("Kaputt", ("Ein Text.",), "bad")
    results = tag_many_received([ArticleReceived(article=good), ArticleReceived(article=bad)], BreaksOnOne())
    assert isinstance(results[1], ValueError)
    assert not isinstance(results[0], Exception) and results[0].tags == tagger.tag(good)
