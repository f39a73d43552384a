"""People, organisations and places mentioned in an article, with canonical ids where known.

Mentions come from two sources: the statistical recogniser (``ner.py``, trained here on GermEval 2014)
and the gazetteer (countries and our knowledge base, found on sight). Where both see a mention the
gazetteer's span and type win, because they come with an id. Every mention is then linked to its
canonical entity when the gazetteer knows the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from pydantic import TypeAdapter

from services.tagger.gazetteer import Gazetteer, KnownEntity, gazetteer
from services.tagger.ner import IntArray, NerModel, Tokens, load_model, split_tokens
from shared.messages import Entity, EntityType, TextField

# What ``EntityRecognizer._name_starts`` knows of a word type.
_UNKNOWN, _STARTS_NOTHING, _STARTS = 0, 1, 2

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
        # Per word type of the recogniser (by its id): whether a known name can start there (see
        # ``_name_starts``), and the recogniser's cache generation those ids belong to.
        self._starts_name = np.zeros(1024, dtype=np.int8)
        self._generation = -1

    def mentions(self, text: str) -> list[Mention]:
        """All mentions in ``text``, in order of appearance, without overlaps."""
        return self.mentions_of([text])[0]

    def mentions_of(self, texts: Sequence[str]) -> list[list[Mention]]:
        """``mentions`` of each text; the recogniser reads all the texts in one pass."""
        tokenised = [split_tokens(text) for text in texts]
        if self.model is not None:
            model_spans, types = self.model.read(tokenised)
            known_names = [
                self.gazetteer.find_at(tokens, self._name_starts(tokens, ids))
                for tokens, ids in zip(tokenised, types, strict=True)
            ]
        else:
            model_spans = [[] for _ in texts]
            known_names = [self.gazetteer.find_in_tokens(tokens) for tokens in tokenised]
        result = []
        for text, spans, known in zip(texts, model_spans, known_names, strict=True):
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

    def _name_starts(self, tokens: Tokens, ids: IntArray) -> list[int]:
        """The tokens where a known name can start, found by the recogniser's word-type ids: one
        numpy gather instead of a dictionary look-up per token (the recogniser made one already)."""
        model = self.model
        assert model is not None  # only called with the recogniser's ids
        if model.generation != self._generation:  # its ids were handed out anew
            self._starts_name[:] = _UNKNOWN
            self._generation = model.generation
        if model.type_count > self._starts_name.size:
            grown = np.full(2 * model.type_count, _UNKNOWN, dtype=np.int8)
            grown[: self._starts_name.size] = self._starts_name
            self._starts_name = grown
        flags = self._starts_name[ids]
        (unknown,) = (flags == _UNKNOWN).nonzero()
        if unknown.size:  # word types new to this table: look each up once
            words = map(tokens.words.__getitem__, unknown.tolist())
            new_types = dict(zip(ids[unknown].tolist(), words, strict=True))
            starts_name = self.gazetteer.starts_name
            self._starts_name[list(new_types)] = [
                _STARTS if starts_name(word) else _STARTS_NOTHING for word in new_types.values()
            ]
            flags = self._starts_name[ids]
        (starts,) = (flags == _STARTS).nonzero()
        return starts.tolist()

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
