"""Names we know: countries (ISO 3166, CLDR names), cities (GeoNames) and our curated knowledge base.

Two jobs: find known names in a text (countries and knowledge-base entries, which are rarely anything
else), and link a mention that the recogniser found to its canonical id, the same in every language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import ahocorasick

from shared.messages import EntityType

DATA_DIR = Path(__file__).resolve().parent / "data"
COUNTRIES_FILE = DATA_DIR / "countries_cldr.json"
CITIES_FILE = DATA_DIR / "cities_geonames.json"
KNOWLEDGE_BASE_FILE = DATA_DIR / "knowledge_base.json"

# Endings a name takes in running text (German genitive "Kasachstans", English "Russia's").
NAME_ENDINGS = ("s", "'s", "\u2019s", "es")


@dataclass(frozen=True)
class KnownEntity:
    """A canonical entity: its id (the contract's ``Entity.id``), followable slug and English name."""

    id: str
    slug: str
    type: EntityType
    name: str
    about: str


@dataclass(frozen=True)
class Match:
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


def _is_word_char(char: str) -> bool:
    return char.isalnum()


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
        self._automaton = ahocorasick.Automaton()
        for name, entity_id in self._spotted.items():
            self._automaton.add_word(name, (len(name), entity_id))
        self._automaton.make_automaton()

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

    def find(self, text: str) -> list[Match]:
        """Known country and knowledge-base names in ``text``, whole words, longest first, no overlaps."""
        candidates: list[Match] = []
        for end_index, (length, entity_id) in self._automaton.iter(text):
            start = end_index - length + 1
            end = end_index + 1
            if start > 0 and _is_word_char(text[start - 1]):
                continue
            if end < len(text) and _is_word_char(text[end]):
                ending = next((e for e in NAME_ENDINGS if text.startswith(e, end)), None)
                after = end + len(ending) if ending else end
                if ending is None or (after < len(text) and _is_word_char(text[after])):
                    continue
                end = after
            candidates.append(Match(start, end, self.entities[entity_id]))
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
