"""Language identification: lingua restricted to the languages we serve."""

from __future__ import annotations

import pytest

from services.tagger.language import (
    DEFAULT_LANGUAGES,
    SAMPLE_CHARS,
    UNDETERMINED,
    LanguageIdentifier,
    _function_word_index,
    function_word_vote,
    language_sample,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Der russische Präsident ist zu einem zweitägigen Besuch in Kasachstan eingetroffen.", "de"),
        ("The Russian president arrived in Kazakhstan for a two-day visit on Wednesday.", "en"),
        ("Le président russe est arrivé mercredi au Kazakhstan pour une visite de deux jours.", "fr"),
        ("El presidente ruso llegó el miércoles a Kazajistán para una visita de dos días.", "es"),
        ("Президент России прибыл в Казахстан с двухдневным визитом в среду.", "ru"),  # noqa: RUF001 - Cyrillic on purpose
    ],
)
def test_identifies_news_sentences(identifier: LanguageIdentifier, text: str, expected: str) -> None:
    """A sentence of news prose is identified as its language (ISO 639-1)."""
    assert identifier.identify(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "OK", "Putin!", "12.03.2026 17:00"])
def test_too_short_is_undetermined(identifier: LanguageIdentifier, text: str) -> None:
    """Text with too few letters to tell gets "und", not a guess."""
    assert identifier.identify(text) == UNDETERMINED


def test_answers_only_configured_languages() -> None:
    """A detector restricted to German and English never answers another language."""
    restricted = LanguageIdentifier(("de", "en"))
    answer = restricted.identify("Le président russe est arrivé mercredi au Kazakhstan.")
    assert answer in ("de", "en")


def test_rejects_unknown_language_code() -> None:
    """A configured code lingua does not know is an error at start-up, not a silent gap."""
    with pytest.raises(ValueError, match="xx"):
        LanguageIdentifier(("de", "xx"))


def test_default_languages_cover_twenty_news_languages() -> None:
    """At least the 20 most used news languages are served by default, each once."""
    assert len(set(DEFAULT_LANGUAGES)) == len(DEFAULT_LANGUAGES) >= 20
    assert {"en", "de", "fr", "es", "ru", "ar", "zh"} <= set(DEFAULT_LANGUAGES)


def test_sample_is_headline_and_start_of_body() -> None:
    """The sample starts with the headline and is cut to the configured size."""
    sample = language_sample("Schlagzeile", "x" * 5_000)
    assert sample.startswith("Schlagzeile\n")
    assert len(sample) <= SAMPLE_CHARS + 1


GERMAN = (
    "Die Regierung hat am Montag beschlossen, dass die Steuern für kleine Unternehmen gesenkt werden. "
    "Der Finanzminister sagte, die Maßnahme sei mit dem Koalitionspartner abgestimmt und werde noch "
    "vor dem Sommer im Parlament beschlossen."
)


def test_clear_function_word_vote_answers_without_lingua() -> None:
    """A sample dominated by one language's function words is that language by the vote alone."""
    index = _function_word_index(DEFAULT_LANGUAGES)
    assert function_word_vote(GERMAN, index) == "de"


def test_unclear_vote_leaves_the_decision_to_lingua() -> None:
    """Too few function words, or close languages, give no vote."""
    index = _function_word_index(DEFAULT_LANGUAGES)
    assert function_word_vote("Putin Kasachstan Atomkraftwerk Rosatom Tokajew", index) is None
    danish = "Regeringen har i dag besluttet at sænke skatten for de små virksomheder, og det er en god idé"
    assert function_word_vote(danish + " " + danish, index) is None


def test_vote_only_among_configured_languages() -> None:
    """A language that is not configured cannot win the vote."""
    index = _function_word_index(("en", "fr"))
    assert function_word_vote(GERMAN, index) is None
