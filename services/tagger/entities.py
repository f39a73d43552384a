"""People, organisations and places mentioned in an article, with canonical ids where known.

Mentions come from two sources: the statistical recogniser (``ner.py``, trained here on GermEval 2014)
and the gazetteer (countries and our knowledge base, found on sight). Where both see a mention the
gazetteer's span and type win, because they come with an id. Every mention is then linked to its
canonical entity when the gazetteer knows the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pydantic import TypeAdapter

from services.tagger.gazetteer import Gazetteer, KnownEntity, gazetteer
from services.tagger.ner import NerModel, load_model, split_tokens
from shared.messages import Entity, EntityType, TextField

# Validates a whole list of entities in one call into pydantic's compiled core: cheaper per entity
# than building each one in Python, even without validation (``model_construct``).
_ENTITY_LIST = TypeAdapter(list[Entity])


class Mention(NamedTuple):
    """A mention in one text (offsets end-exclusive) and its canonical entity if known."""

    type: EntityType
    start: int
    end: int
    known: KnownEntity | None


class EntityRecognizer:
    """Finds and links entity mentions (loading it reads the gazetteer and the model: do it once)."""

    def __init__(self, *, use_model: bool = True) -> None:
        self.gazetteer: Gazetteer = gazetteer()
        self.model: NerModel | None = load_model() if use_model else None

    def mentions(self, text: str) -> list[Mention]:
        """All mentions in ``text``, in order of appearance, without overlaps."""
        return self.mentions_of([text])[0]

    def mentions_of(self, texts: Sequence[str]) -> list[list[Mention]]:
        """``mentions`` of each text; the recogniser reads all the texts in one pass."""
        tokenised = [split_tokens(text) for text in texts]
        model_spans = self.model.spans_of(tokenised) if self.model is not None else [[] for _ in texts]
        result = []
        for text, tokens, spans in zip(texts, tokenised, model_spans, strict=True):
            known = self.gazetteer.find_in_tokens(tokens)
            found = [Mention(m.entity.type, m.start, m.end, m.entity) for m in known]
            if spans:
                # Both lists are in text order without overlaps, so one pass finds each model
                # span's only possible overlap: the first known name that ends after it starts.
                following = 0
                for start, end, label in spans:
                    while following < len(known) and known[following].end <= start:
                        following += 1
                    if following < len(known) and known[following].start < end:
                        continue
                    entity = self.gazetteer.link(text[start:end], label)
                    found.append(Mention(label, start, end, entity))
                found.sort(key=lambda m: m.start)
            result.append(found)
        return result

    def entities(self, text: str, field: TextField) -> list[Entity]:
        """The mentions of one field of an article as contract entities."""
        return self.entities_of([(text, field)])

    def article_entities(self, headline: str, body: str) -> list[Entity]:
        """The entities of an article's headline, then of its body (as ``entities`` of each)."""
        return self.entities_of([(headline, "headline"), (body, "body")])

    def articles_entities(self, articles: Sequence[tuple[str, str]]) -> list[list[Entity]]:
        """``article_entities`` of several (headline, body) pairs, read by the recogniser in one pass
        (a few articles a pass cost ~25% less than one at a time: fewer numpy calls)."""
        fields: list[tuple[str, TextField]] = []
        for headline, body in articles:
            fields += [(headline, "headline"), (body, "body")]
        found = self.mentions_of([text for text, _ in fields])
        pairs = range(0, len(fields), 2)
        return [_as_entities(fields[n : n + 2], found[n : n + 2]) for n in pairs]

    def entities_of(self, fields: Sequence[tuple[str, TextField]]) -> list[Entity]:
        """The mentions of several fields as contract entities, field by field."""
        return _as_entities(fields, self.mentions_of([text for text, _ in fields]))


def _as_entities(fields: Sequence[tuple[str, TextField]], found: Sequence[list[Mention]]) -> list[Entity]:
    return _ENTITY_LIST.validate_python(
        [
            {
                "type": m.type,
                "text": text[m.start : m.end],
                "field": field,
                "start": m.start,
                "end": m.end,
                "id": m.known.id if m.known else None,
            }
            for (text, field), mentions in zip(fields, found, strict=True)
            for m in mentions
        ]
    )
