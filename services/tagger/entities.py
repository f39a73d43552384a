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


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class EntityRecognizer:
    """Finds and links entity mentions (loading it reads the gazetteer and the model: do it once)."""

    def __init__(self, *, use_model: bool = True) -> None:
        self.gazetteer: Gazetteer = gazetteer()
        self.model: NerModel | None = load_model() if use_model else None

    def mentions(self, text: str) -> list[Mention]:
        """All mentions in ``text``, in order of appearance, without overlaps."""
        tokens = split_tokens(text)
        found: list[Mention] = [
            Mention(m.entity.type, m.start, m.end, m.entity) for m in self.gazetteer.find_in_tokens(tokens)
        ]
        if self.model is not None:
            spans = [(m.start, m.end) for m in found]
            for start, end, label in self.model.token_spans(tokens):
                if any(_overlaps((start, end), span) for span in spans):
                    continue
                known = self.gazetteer.link(text[start:end], label)
                found.append(Mention(label, start, end, known))
        found.sort(key=lambda m: m.start)
        return found

    def entities(self, text: str, field: TextField) -> list[Entity]:
        """The mentions of one field of an article as contract entities."""
        return [
            Entity(
                type=m.type,
                text=text[m.start : m.end],
                field=field,
                start=m.start,
                end=m.end,
                id=m.known.id if m.known else None,
            )
            for m in self.mentions(text)
        ]
