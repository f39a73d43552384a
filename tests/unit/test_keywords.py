"""Key phrases by RAKE-style scoring."""

from __future__ import annotations

import pytest

from services.tagger.keywords import key_phrases, stopwords

pytestmark = pytest.mark.unit

HEADLINE = "Putin will bei Besuch in Kasachstan Beziehungen festigen"
BODY = (
    "Der russische Präsident Wladimir Putin ist zu einem Besuch in Kasachstan eingetroffen. "
    "Putin und Tokajew sprechen über den Bau eines ersten Atomkraftwerks in Kasachstan. "
    "Kasachstan ist ein langjähriger Partner Russlands."
)


def test_returns_at_most_the_requested_count() -> None:
    """No more phrases than asked for, and none repeated."""
    phrases = key_phrases(HEADLINE, BODY, "de", count=3)
    assert 0 < len(phrases) <= 3
    assert len({p.lower() for p in phrases}) == len(phrases)


def test_phrases_are_not_stop_words_or_numbers() -> None:
    """A phrase never starts or ends with a stop word and is never a bare number."""
    stop = stopwords("de")
    for phrase in key_phrases(HEADLINE, BODY + " Im Jahr 2024 waren es 7500 Kilometer.", "de"):
        words = phrase.lower().split()
        assert words[0] not in stop and words[-1] not in stop
        assert not phrase.isdigit()


def test_phrases_are_written_as_in_the_article() -> None:
    """Each phrase appears verbatim in the headline or the body."""
    for phrase in key_phrases(HEADLINE, BODY, "de"):
        assert phrase in HEADLINE or phrase in BODY


def test_frequent_subject_ranks_high() -> None:
    """The article's repeated subject is among its top key phrases."""
    phrases = [p.lower() for p in key_phrases(HEADLINE, BODY, "de")]
    assert any("kasachstan" in p for p in phrases[:2])


def test_unknown_language_still_works() -> None:
    """A language without a stop-word list gets phrases split at punctuation only."""
    assert key_phrases("Título", "Texto sobre el tema. Otro tema.", "xx")


def test_letters_that_change_length_when_lower_cased_keep_phrases_as_written() -> None:
    """ "İ" becomes two characters in lower case; phrases are still the article's own spelling."""
    body = "İstanbul Büyükşehir Belediyesi erklärte am Montag, İstanbul bekomme eine neue U-Bahn."
    phrases = key_phrases("İstanbul baut U-Bahn", body, "de")
    assert phrases
    assert all(p in body or p in "İstanbul baut U-Bahn" for p in phrases)


@pytest.mark.parametrize("order", [("de", "xx"), ("xx", "de")])
def test_stop_words_stay_per_language_whatever_was_read_before(order: tuple[str, str]) -> None:
    """A word that is a stop word in one language and not in another splits phrases only in the
    first, in whichever order the languages are read."""
    results = {language: key_phrases("", "Die Kommission tagt.", language) for language in order}
    assert results["de"][0] == "Kommission tagt"
    assert results["xx"][0] == "Die Kommission tagt"


def test_long_runs_of_content_words_are_cut_into_phrases_of_three() -> None:
    """Four content words in a row give a phrase of three words and one of the fourth."""
    phrases = key_phrases("", "Alpha Beta Gamma Delta.", "de", count=10)
    assert set(phrases) == {"Alpha Beta Gamma", "Delta"}
