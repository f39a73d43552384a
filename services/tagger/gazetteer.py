"""Names we know: countries (ISO 3166, CLDR names), cities (GeoNames) and our curated knowledge base.

Two jobs: find known names in a text (countries and knowledge-base entries, which are rarely anything
else), and link a mention that the recogniser found to its canonical id, the same in every language.
Names are matched token by token on the recogniser's tokens, so finding them costs a dictionary look-up
per word type (cached) rather than a scan of every character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import compress, repeat
from pathlib import Path
from typing import NamedTuple

from services.tagger.ner import TOKEN_PATTERN, Tokens, split_tokens
from shared.messages import EntityType

DATA_DIR = Path(__file__).resolve().parent / "data"
COUNTRIES_FILE = DATA_DIR / "countries_cldr.json"
CITIES_FILE = DATA_DIR / "cities_geonames.json"
KNOWLEDGE_BASE_FILE = DATA_DIR / "knowledge_base.json"

# Endings a name takes in running text (German genitive "Kasachstans", English "Russia's").
NAME_ENDINGS = ("s", "'s", "\u2019s", "es")
# Country names that are also a capitalised everyday word in one of our languages: German sentences
# start with "Man" (one, people) far more often than news mention the Isle of Man. They are not
# spotted on sight; a mention the recogniser finds is still linked.
COMMON_WORD_NAMES = frozenset({"Man"})
# Word types (and mentions) whose look-up result is cached (cleared when the cache grows past this).
LEAD_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class KnownEntity:
    """A canonical entity: its id (the contract's ``Entity.id``), followable slug and English name."""

    id: str
    slug: str
    type: EntityType
    name: str
    about: str


class Match(NamedTuple):
    """A known name found in a text (character offsets, end exclusive)."""

    start: int
    end: int
    entity: KnownEntity


def country_entity(code: str, name: str) -> KnownEntity:
    return KnownEntity(f"iso3166:{code}", f"place:{code}", "LOC", name, f"country {code}")


def city_entity(geonameid: int, name: str, country: str) -> KnownEntity:
    return KnownEntity(
        f"geonames:{geonameid}", f"place:geonames-{geonameid}", "LOC", name, f"city in {country}"
    )


@dataclass(frozen=True)
class _Lead:
    """What a word type can start: known names beginning with it (as token tuples, longest first),
    the entity the whole word names with a case ending, and names heading its hyphenated parts."""

    names: tuple[tuple[tuple[str, ...], str], ...]
    inflected: str | None
    parts: tuple[tuple[int, int, str], ...]


# Marks a word type not looked up yet.
_UNSEEN = _Lead((), None, ())


def _strip_ending(word: str) -> list[str]:
    """``word`` without each name ending it carries ("Kasachstans" -> "Kasachstan")."""
    return [word[: -len(e)] for e in NAME_ENDINGS if word.endswith(e) and len(word) > len(e)]


class Gazetteer:
    """Known names and the entities they stand for."""

    def __init__(self) -> None:
        self.entities: dict[str, KnownEntity] = {}
        # Names that are found in text on sight (countries, knowledge base): name -> entity id.
        self._spotted: dict[str, str] = {}
        # Names only used to link a mention found otherwise (cities): name -> entity id.
        self._linkable: dict[str, str] = {}
        self._load_countries()
        self._load_knowledge_base()
        self._load_cities()
        # Spotted names as token tuples, by their first token.
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for name, entity_id in self._spotted.items():
            words = tuple(TOKEN_PATTERN.findall(name))
            if words and name not in COMMON_WORD_NAMES:
                self._by_first.setdefault(words[0], []).append((words, entity_id))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda item: -len(item[0]))
        self._single: dict[str, str] = {
            words[0]: entity_id
            for candidates in self._by_first.values()
            for words, entity_id in candidates
            if len(words) == 1
        }
        self._leads: dict[str, _Lead | None] = {}
        self._links: dict[tuple[str, EntityType], KnownEntity | None] = {}

    def _load_countries(self) -> None:
        countries = json.loads(COUNTRIES_FILE.read_text(encoding="utf-8"))
        for code, item in countries.items():
            entity = country_entity(code, item["en"])
            self.entities[entity.id] = entity
            for name in item["names"]:
                self._spotted.setdefault(name, entity.id)

    def _load_knowledge_base(self) -> None:
        kb = json.loads(KNOWLEDGE_BASE_FILE.read_text(encoding="utf-8"))
        for item in kb["entries"]:
            kind, _, local = item["id"].partition(":")
            if kind == "place":  # extra names of a country
                entity_id = f"iso3166:{local}"
                if entity_id not in self.entities:
                    raise ValueError(f"knowledge base names unknown country {local}")
            else:
                entity_id = item["id"]
                self.entities[entity_id] = KnownEntity(
                    entity_id, item["id"], item["type"], item["name"], item["about"]
                )
            for alias in item["aliases"]:
                self._spotted[alias] = entity_id

    def _load_cities(self) -> None:
        # Largest first, so an ambiguous name links to the biggest place of that name.
        for geonameid, name, country, _population, names in json.loads(
            CITIES_FILE.read_text(encoding="utf-8")
        ):
            entity = city_entity(geonameid, name, country)
            self.entities[entity.id] = entity
            for alias in names:
                self._linkable.setdefault(alias, entity.id)

    def _lead(self, word: str) -> _Lead | None:
        """What ``word`` can start (cached per word type; None for the many words that start nothing)."""
        if word in self._leads:
            return self._leads[word]
        names = tuple(self._by_first.get(word, ()))
        inflected = next((self._single[w] for w in _strip_ending(word) if w in self._single), None)
        parts: list[tuple[int, int, str]] = []
        if "-" in word and word not in self._single:
            offset = 0
            for part in word.split("-"):
                entity_id = next(
                    (self._single[w] for w in (part, *_strip_ending(part)) if w in self._single), None
                )
                if entity_id is not None and part:
                    parts.append((offset, offset + len(part), entity_id))
                offset += len(part) + 1
        lead = _Lead(names, inflected, tuple(parts)) if names or inflected or parts else None
        if len(self._leads) >= LEAD_CACHE_LIMIT:
            self._leads.clear()
        self._leads[word] = lead
        return lead

    def find(self, text: str) -> list[Match]:
        """Known country and knowledge-base names in ``text``, whole words, longest first, no overlaps."""
        return self.find_in_tokens(split_tokens(text))

    def starts_name(self, word: str) -> bool:
        """Whether a known name can start at a token ``word`` (cached per word type)."""
        return self._lead(word) is not None

    def find_in_tokens(self, tokens: Tokens) -> list[Match]:
        """Known names among ``tokens``: whole tokens (a last one may carry a case ending, as in
        "Kasachstans"), or parts of a hyphenated compound ("OVKS-Mitglied"); longest first, no overlaps."""
        leads = map(self._leads.get, tokens.words, repeat(_UNSEEN))
        # Leads are truthy, None (a word that starts no name, the usual case) is not.
        return self.find_at(tokens, compress(range(len(tokens.words)), leads))

    def find_at(self, tokens: Tokens, indices: Iterable[int]) -> list[Match]:
        """``find_in_tokens`` when the tokens that may start a name are known: ``indices``, in
        order, holds at least every token for which ``starts_name`` is true."""
        words = tokens.words
        candidates: list[Match] = []
        entities = self.entities
        for index in indices:
            lead = self._lead(words[index])
            if lead is None:
                continue
            start = int(tokens.starts[index])
            for name, entity_id in lead.names:
                last = index + len(name) - 1
                if last >= len(words) or (last > index and tuple(words[index:last]) != name[:-1]):
                    continue
                final = words[last]
                if final == name[-1] or (
                    final.startswith(name[-1]) and final[len(name[-1]) :] in NAME_ENDINGS
                ):
                    end = int(tokens.starts[last]) + len(final)
                    candidates.append(Match(start, end, entities[entity_id]))
            if lead.inflected is not None:
                candidates.append(Match(start, start + len(words[index]), entities[lead.inflected]))
            for part_start, part_end, entity_id in lead.parts:
                candidates.append(Match(start + part_start, start + part_end, entities[entity_id]))
        candidates.sort(key=lambda m: (m.start, -(m.end - m.start)))
        chosen: list[Match] = []
        last_end = -1
        for match in candidates:
            if match.start >= last_end:
                chosen.append(match)
                last_end = match.end
        return chosen

    def link(self, surface: str, entity_type: EntityType) -> KnownEntity | None:
        """The canonical entity a mention of ``entity_type`` written as ``surface`` stands for."""
        key = (surface, entity_type)
        if key in self._links:
            return self._links[key]
        if len(self._links) >= LEAD_CACHE_LIMIT:
            self._links.clear()
        known = self._links[key] = self._link(surface, entity_type)
        return known

    def _link(self, surface: str, entity_type: EntityType) -> KnownEntity | None:
        for name in _name_variants(surface):
            entity_id = self._spotted.get(name)
            if entity_id is None and entity_type == "LOC":
                entity_id = self._linkable.get(name)
            if entity_id is not None and self.entities[entity_id].type == entity_type:
                return self.entities[entity_id]
        return None


_SPACES = re.compile(r"\s+")


def _name_variants(surface: str) -> list[str]:
    """The surface and its forms without a genitive ending."""
    name = _SPACES.sub(" ", surface.strip())
    variants = [name]
    for ending in NAME_ENDINGS:
        if name.endswith(ending) and len(name) > len(ending) + 2:
            variants.append(name[: -len(ending)])
    return variants


@cache
def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (loading it takes about a second)."""
    return Gazetteer()
