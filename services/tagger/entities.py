"""People, organisations and places mentioned in an article, with canonical ids where known.

Mentions come from two sources: the statistical recogniser (``ner.py``, trained here on GermEval 2014)
and the gazetteer (countries and our knowledge base, found on sight). Where both see a mention the
gazetteer's span and type win, because they come with an id. Every mention is then linked to its
canonical entity when the gazetteer knows the name.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.tagger.gazetteer import Gazetteer, KnownEntity, gazetteer
from services.tagger.ner import NerModel, load_model, split_tokens
from shared.messages import Entity, EntityType, TextField


@dataclass(frozen=True)
class Mention:
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
        tokens = split_tokens(text)
        known = self.gazetteer.find_in_tokens(tokens)
        found = [Mention(m.entity.type, m.start, m.end, m.entity) for m in known]
        if self.model is not None:
            # Both lists are in text order without overlaps, so one pass finds each model span's
            # only possible overlap: the first known name that ends after the span starts.
            following = 0
            for start, end, label in self.model.token_spans(tokens):
                while following < len(known) and known[following].end <= start:
                    following += 1
                if following < len(known) and known[following].start < end:
                    continue
                entity = self.gazetteer.link(text[start:end], label)
                found.append(Mention(label, start, end, entity))
            found.sort(key=lambda m: m.start)
        return found

    def entities(self, text: str, field: TextField) -> list[Entity]:
        """The mentions of one field of an article as contract entities."""
        # Built without validation: every field is typed and checked where it is made above.
        return [
            Entity.model_construct(
                type=m.type,
                text=text[m.start : m.end],
                field=field,
                start=m.start,
                end=m.end,
                id=m.known.id if m.known else None,
            )
            for m in self.mentions(text)
        ]
