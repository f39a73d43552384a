"""The tagging core: an article in, its tags out (language, subjects, entities, keywords, topics).

``Tagger`` loads its models once; ``tag`` is then a pure function of the article. The followable
``topics`` are what the pusher routes on: the slugs of the article's top-level IPTC subjects and of
the canonical entities it mentions (see docs/topics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.tagger.entities import EntityRecognizer
from services.tagger.gazetteer import gazetteer
from services.tagger.keywords import key_phrases
from services.tagger.language import (
    DEFAULT_LANGUAGES,
    UNDETERMINED,
    LanguageIdentifier,
    language_sample,
)
from services.tagger.topics import TopicClassifier, topic_slug_catalogue
from shared.messages import Article, Entity, Tags

# Articles the service tags together (``tag_many``): the recogniser costs ~25% less an article at 4
# than at 1, little less at 8 or 16 (and a failed chunk is retried article by article).
TAG_CHUNK = 4


@dataclass(frozen=True)
class TaggerConfig:
    """What the tagger serves. ``languages`` are ISO 639-1 codes lingua knows."""

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    # lingua's high-accuracy mode: better on snippets, but ~530 MB more memory (see language.py).
    high_accuracy_language: bool = False
    # The trained recogniser; without it only known names (countries, knowledge base) are found.
    entity_model: bool = True
    keyword_count: int = 5


class Tagger:
    """Tags articles. Building one is the slow part (models, vocabularies): build it once."""

    def __init__(self, config: TaggerConfig | None = None) -> None:
        self.config = config or TaggerConfig()
        self._language = LanguageIdentifier(
            self.config.languages, high_accuracy=self.config.high_accuracy_language
        )
        self._topics = TopicClassifier()
        self._entities = EntityRecognizer(use_model=self.config.entity_model)

    def tag(self, article: Article) -> Tags:
        """The tags of one article (deterministic: the same article always gets the same tags)."""
        return self.tag_many([article])[0]

    def tag_many(self, articles: Sequence[Article]) -> list[Tags]:
        """``tag`` of each article; the entity recogniser reads them all in one pass (cheaper than
        one at a time, and the same tags)."""
        pairs = [(article.headline, article.body_text) for article in articles]
        entities = self._entities.articles_entities(pairs)
        return [self._tags(article, found) for article, found in zip(articles, entities, strict=True)]

    def _tags(self, article: Article, entities: list[Entity]) -> Tags:
        body_text = article.body_text
        language = self._language.identify(language_sample(article.headline, body_text))
        # The subject rules and stop words are per language; an undetermined text is read as the
        # language the input declared, if any.
        reading = language
        if reading == UNDETERMINED and article.language:
            reading = article.language.split("-")[0].lower()
        subjects = self._topics.classify(article.headline, body_text, reading)
        keywords = key_phrases(article.headline, body_text, reading, self.config.keyword_count)
        topics: list[str] = [s.slug for s in subjects if s.level == 1 and s.slug]
        for entity in entities:
            known = gazetteer().entities.get(entity.id) if entity.id else None
            if known is not None and known.slug not in topics:
                topics.append(known.slug)
        return Tags(
            language=language,
            subjects=subjects,
            entities=tuple(entities),
            keywords=keywords,
            topics=tuple(topics),
        )


def topic_catalogue() -> list[tuple[str, str]]:
    """Every followable slug with a one-line description (for ``newswire topics``).

    Top-level IPTC topics first, then every canonical entity: countries (``place:KZ``), cities
    (``place:geonames-<id>``), and the people and organisations of our knowledge base.
    """
    catalogue = topic_slug_catalogue()
    entities = sorted(gazetteer().entities.values(), key=lambda e: e.slug)
    catalogue += [(e.slug, f"{e.type} {e.name} ({e.about})") for e in entities]
    return catalogue
