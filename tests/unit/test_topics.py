"""IPTC Media Topics by keyword rules."""

from __future__ import annotations

import re

import pytest

from services.tagger.topics import (
    TOP_LEVEL_SLUGS,
    URI_PREFIX,
    TopicClassifier,
    topic_slug_catalogue,
    vocabulary,
)

pytestmark = pytest.mark.unit

POLITICS = "medtop:11000000"
SPORT = "medtop:15000000"
CONFLICT = "medtop:16000000"


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier()


def test_vocabulary_has_every_top_level_topic_with_a_slug() -> None:
    """The vendored vocabulary has IPTC's 17 top-level topics, each with a followable slug."""
    top = {c.qcode for c in vocabulary().top_level()}
    assert len(top) == 17
    assert top == set(TOP_LEVEL_SLUGS)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", slug) for slug in TOP_LEVEL_SLUGS.values())


def test_every_concept_climbs_to_a_top_level_topic() -> None:
    """Each active concept's ancestor at level 1 is a top-level topic (no orphans)."""
    vocab = vocabulary()
    assert all(vocab.ancestor_at(q, 1) in TOP_LEVEL_SLUGS for q in vocab.concepts)


def test_sport_story_is_sport(classifier: TopicClassifier) -> None:
    """A football match report gets sport as its top subject, with its IPTC URI and slug."""
    subjects = classifier.classify(
        "Rapid gewinnt Derby gegen Austria",
        "Der Stürmer erzielte in der Nachspielzeit das Siegtor. Der Trainer lobte die Mannschaft "
        "nach dem Spiel in der Bundesliga.",
        "de",
    )
    top = subjects[0]
    assert top.code == SPORT
    assert top.slug == "sport"
    assert top.uri == URI_PREFIX + "15000000"
    assert top.relevance == 100


def test_subjects_carry_second_level_topics(classifier: TopicClassifier) -> None:
    """An election story gets politics and, below it, the level-2 topic election."""
    subjects = classifier.classify(
        "Bundestagswahl: Kandidaten im Wahlkampf",
        "Die Parteien werben um Wähler. Umfragen sehen die Regierung vor der Wahl knapp vorn.",
        "de",
    )
    codes = [s.code for s in subjects]
    assert codes[0] == POLITICS
    election = next(s for s in subjects if s.name == "election")
    assert election.level == 2
    assert election.slug is None
    assert vocabulary().concepts[election.code].parent == POLITICS


def test_german_war_is_not_english_war(classifier: TopicClassifier) -> None:
    """German "war" (was) is no evidence of conflict; English "war" is."""
    german = classifier.classify("", "Das Konzert war ausverkauft und das Publikum war begeistert.", "de")
    english = classifier.classify("", "The war in the east killed soldiers and civilians.", "en")
    assert CONFLICT not in [s.code for s in german]
    assert english[0].code == CONFLICT


def test_relevance_and_confidence_are_in_range(classifier: TopicClassifier) -> None:
    """Relevance is 1-100 (best topic 100) and confidence 0-1, strongest subject first."""
    subjects = classifier.classify(
        "Regierung beschließt Steuerreform",
        "Der Finanzminister sagte, die Wirtschaft wachse. Die Inflation sinkt, die Börse steigt.",
        "de",
    )
    assert subjects
    top_levels = [s for s in subjects if s.level == 1]
    assert top_levels[0].relevance == 100
    assert [s.relevance for s in top_levels] == sorted((s.relevance for s in top_levels), reverse=True)
    assert all(0 < s.relevance <= 100 and 0.0 <= s.confidence <= 1.0 for s in subjects)


def test_text_without_evidence_gets_no_subject(classifier: TopicClassifier) -> None:
    """No keyword, no subject: the tagger does not invent a topic."""
    assert classifier.classify("", "Lorem ipsum dolor sit amet.", "de") == ()


def test_catalogue_lists_each_top_level_slug_once() -> None:
    """The topic catalogue names every top-level slug with its IPTC code."""
    catalogue = topic_slug_catalogue()
    assert sorted(slug for slug, _ in catalogue) == sorted(TOP_LEVEL_SLUGS.values())
    assert all("medtop:" in description for _, description in catalogue)


def test_words_that_only_contain_a_keyword_are_no_evidence(classifier: TopicClassifier) -> None:
    """ "Beispiel" is not a game, "festgenommen" not a genome, "Ankündigung" not a dismissal."""
    subjects = classifier.classify(
        "",
        "Zum Beispiel wurden zwei Männer festgenommen. Die Polizei bestätigte die Ankündigung "
        "der Staatsanwaltschaft, die Verdächtigen knapp vor der Grenze gefasst zu haben.",
        "de",
    )
    codes = [s.code for s in subjects]
    assert codes[0] == "medtop:02000000"
    assert not {"medtop:15000000", "medtop:10000000", "medtop:13000000", "medtop:09000000"} & set(codes)


def test_phrase_rules_match_across_spaces_and_hyphens(classifier: TopicClassifier) -> None:
    """Multi-word rules ("Europäische Union", "EU-...") are found in running text."""
    subjects = classifier.classify(
        "", "Die Europäische Union und die EU-Kommission beraten in Brüssel.", "de"
    )
    assert subjects[0].code == POLITICS


def test_classification_does_not_depend_on_what_was_seen_before() -> None:
    """The word cache changes speed only: a fresh classifier and a used one give the same subjects."""
    text = "Die Regierung plant eine Steuerreform. Der Finanzminister verteidigt das Budget."
    used = TopicClassifier()
    used.classify("Fußball", "Der Stürmer erzielte ein Tor für die Mannschaft.", "de")
    assert used.classify("", text, "de") == TopicClassifier().classify("", text, "de")


def test_phrase_rules_count_with_an_inflected_last_word_only_when_written_together(
    classifier: TopicClassifier,
) -> None:
    """ "Champions Leagues" is the phrase rule "champions league" with an ending and counts once more
    than the same words apart; an English phrase rule ("peace talks") counts in English text only."""
    league = "medtop:20001108"
    together = classifier.rules.scores("Finale der Champions Leagues", "de")
    apart = classifier.rules.scores("Finale der Champions. Leagues", "de")
    assert together[league] == apart[league] + 1.0
    peace = "medtop:20000073"
    english = classifier.rules.scores("The peace talks began", "en")
    german = classifier.rules.scores("The peace talks began", "de")
    assert english[peace] == german[peace] + 0.5
