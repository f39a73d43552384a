"""Entity mentions and their canonical ids, the same across languages."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.tagger import ner
from services.tagger.entities import EntityRecognizer
from services.tagger.gazetteer import gazetteer
from services.tagger.ner import (
    _PAD,
    LABELS,
    O_MARGIN,
    TOKEN_PATTERN,
    _batch_viterbi,
    bio_spans,
    load_model,
    shape,
    split_tokens,
    tokenize,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def recognizer() -> EntityRecognizer:
    return EntityRecognizer()


@pytest.mark.parametrize("name", ["Kasachstan", "Kazakhstan", "Kazajistán", "Казахстан"])
def test_country_names_in_any_language_link_to_one_id(name: str) -> None:
    """A country written in German, English, Spanish or Russian links to its ISO 3166 id."""
    known = gazetteer().link(name, "LOC")
    assert known is not None
    assert known.id == "iso3166:KZ"
    assert known.slug == "place:KZ"


def test_genitive_mention_keeps_its_ending_and_id(recognizer: EntityRecognizer) -> None:
    """ "Kasachstans" is one mention of Kazakhstan, the whole word as written."""
    text = "Die Werte Kasachstans seien nah an denen Russlands."
    entities = recognizer.entities(text, "body")
    by_text = {e.text: e for e in entities}
    assert by_text["Kasachstans"].id == "iso3166:KZ"
    assert by_text["Russlands"].id == "iso3166:RU"


def test_name_inside_hyphenated_compound_is_found(recognizer: EntityRecognizer) -> None:
    """An abbreviation heading a compound ("OVKS-Mitglied") is a mention of the organisation."""
    text = "Kasachstan ist OVKS-Mitglied."
    ovks = [e for e in recognizer.entities(text, "body") if e.text == "OVKS"]
    assert len(ovks) == 1
    assert (ovks[0].type, ovks[0].id, ovks[0].start) == ("ORG", "org:csto", 15)


def test_everyday_word_is_not_spotted_as_a_country(recognizer: EntityRecognizer) -> None:
    """German "Man" (one, people) starting a sentence is not the Isle of Man."""
    text = "Man sagt, Kasachstan sei reich. Man weiß es nicht."
    ids = {e.text: e.id for e in recognizer.entities(text, "body")}
    assert "Man" not in ids
    assert ids["Kasachstan"] == "iso3166:KZ"
    assert gazetteer().link("Isle of Man", "LOC") is not None


def test_person_aliases_share_one_id() -> None:
    """German and English spellings of a person link to the same knowledge-base id."""
    german = gazetteer().link("Kassym-Schomart Tokajew", "PER")
    english = gazetteer().link("Kassym-Jomart Tokayev", "PER")
    assert german is not None and english is not None
    assert german.id == english.id == "person:kassym-jomart-tokayev"


def test_city_found_by_the_model_links_to_geonames(recognizer: EntityRecognizer) -> None:
    """A capital the gazetteer does not spot on sight is recognised and linked to GeoNames."""
    text = "Aufnahmen zeigten die Landung in der kasachischen Hauptstadt Astana."
    astana = [e for e in recognizer.entities(text, "body") if e.text == "Astana"]
    assert len(astana) == 1
    assert astana[0].type == "LOC"
    assert astana[0].id == "geonames:1526273"


def test_offsets_point_at_the_text(recognizer: EntityRecognizer) -> None:
    """Every entity's offsets cut exactly its text out of the field, in order, without overlaps."""
    text = (
        "Der russische Präsident Wladimir Putin traf in Astana den kasachischen Präsidenten "
        "Kassym-Schomart Tokajew. Rosatom will in Kasachstan bauen."
    )
    entities = recognizer.entities(text, "body")
    assert entities
    previous_end = 0
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
        assert entity.start >= previous_end
        previous_end = entity.end


def test_unknown_words_get_no_id(recognizer: EntityRecognizer) -> None:
    """A mention the gazetteer does not know keeps id None rather than a wrong guess."""
    assert gazetteer().link("Xyzzyville", "LOC") is None


def test_tokenizer_keeps_compounds_and_splits_punctuation() -> None:
    """Hyphenated compounds stay one token; punctuation is its own token."""
    text = "Kasachstan ist OVKS-Mitglied, sagte er."
    assert [text[s:e] for s, e in tokenize(text)] == [
        "Kasachstan", "ist", "OVKS-Mitglied", ",", "sagte", "er", ".",
    ]  # fmt: skip


def test_bio_spans_read_chunks() -> None:
    """BIO labels become (first, end, type) chunks; a stray I- starts a chunk."""
    labels = ["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "B-ORG", "I-ORG"]
    assert bio_spans(labels) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "ORG"), (5, 7, "ORG")]


def test_shape_collapses_character_classes() -> None:
    """Word shapes collapse runs of the same character class."""
    assert shape("Putin") == "Xx"
    assert shape("OVKS-Mitglied") == "X-Xx"
    assert shape("2026") == "d"


def test_token_offsets_match_the_token_pattern() -> None:
    """Offsets computed from piece lengths are those of the tokens the pattern finds, whatever the spacing."""
    text = "  Der  US-Präsident\tsagte:\n\n»Nein«, 1.000,50 Euro…  "
    tokens = split_tokens(text)
    expected = [m.span() for m in TOKEN_PATTERN.finditer(text)]
    assert list(zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True)) == expected
    assert tokens.words == [text[s:e] for s, e in expected]


def test_token_offsets_match_the_token_pattern_on_random_text() -> None:
    """Words and offsets are the pattern's matches for any mix of words, digits, marks and spaces."""
    rng = random.Random(11)
    alphabet = "aZß3²_-'\u2019&.,;:()»« \t\n\xa0\u2028\u3000٣Ωжö!?/\U0001d7ce\U0001d400"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        tokens = split_tokens(text)
        expected = [m.span() for m in TOKEN_PATTERN.finditer(text)]
        assert list(zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True)) == expected, text
        assert tokens.words == [text[s:e] for s, e in expected], text


def _viterbi_one(emissions: np.ndarray, transitions: np.ndarray) -> list[int]:
    """Plain Viterbi of one stretch (labels, tokens) that starts and ends next to an O."""
    score = transitions[0] + emissions[:, 0]
    back = []
    for step in range(1, emissions.shape[1]):
        candidates = score[:, None] + transitions
        back.append(candidates.argmax(axis=0))
        score = candidates.max(axis=0) + emissions[:, step]
    best = int((score + transitions[:, 0]).argmax())
    path = [best]
    for pointers in reversed(back):
        best = int(pointers[best])
        path.append(best)
    return path[::-1]


def test_batched_viterbi_equals_one_stretch_at_a_time() -> None:
    """Decoding stretches of different lengths together gives each the path it gets alone."""
    rng = np.random.default_rng(7)
    labels = len(LABELS)
    # The last column is the padding step that only O can take.
    emissions = np.concatenate([rng.normal(size=(labels, 40)), _PAD[:, None]], axis=1)
    transitions = rng.normal(size=(labels, labels))
    starts = np.array([0, 3, 10, 20, 33])
    lengths = np.array([1, 5, 2, 9, 7])
    positions, path = _batch_viterbi(emissions, starts, lengths, transitions)
    got = dict(zip(positions.tolist(), path.tolist(), strict=True))
    for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        alone = _viterbi_one(emissions[:, start : start + length], transitions)
        assert [got[p] for p in range(start, start + length)] == alone


SENTENCES = [
    "Der russische Präsident Wladimir Putin traf in Astana den kasachischen Präsidenten "
    "Kassym-Schomart Tokajew.",
    "Die Deutsche Bank und die Bundesärztekammer in Berlin widersprachen dem FC Bayern München.",
    "Laut APA hat die SPÖ in Wien und Graz verloren, sagte Michael Häupl am Sonntag.",
    "Apple, Google und Microsoft melden Gewinne; Tim Cook sprach in New York.",
    "",
    "Putin",
]


def test_labels_equal_plain_viterbi_between_sure_o_tokens(recognizer: EntityRecognizer) -> None:
    """Each stretch between tokens fixed as O gets the labels a plain Viterbi pass gives it alone."""
    model = recognizer.model
    assert model is not None
    for text in SENTENCES:
        words = split_tokens(text).words
        if not words:
            continue
        emissions = model._emissions(words)[:, :-1]
        is_open = emissions[0] - emissions[1:].max(axis=0) < O_MARGIN
        expected = [0] * len(words)
        position = 0
        while position < len(words):
            if not is_open[position]:
                position += 1
                continue
            end = position
            while end < len(words) and is_open[end]:
                end += 1
            stretch = _viterbi_one(emissions[:, position:end], model._transitions)
            expected[position:end] = stretch
            position = end
        assert model.label_ids(words).tolist() == expected, text


def test_texts_decoded_together_get_their_labels_alone(recognizer: EntityRecognizer) -> None:
    """Decoding several texts in one pass gives each text the labels it gets on its own."""
    model = recognizer.model
    assert model is not None
    texts = [split_tokens(text).words for text in SENTENCES]
    together = model.labels_of(texts)
    assert [labels.tolist() for labels in together] == [model.label_ids(words).tolist() for words in texts]


def test_article_entities_are_those_of_headline_then_body(recognizer: EntityRecognizer) -> None:
    """An article's entities are its headline's, then its body's, as each field gets them alone."""
    headline, body = SENTENCES[0], " ".join(SENTENCES[1:4])
    got = recognizer.article_entities(headline, body)
    assert got == recognizer.entities(headline, "headline") + recognizer.entities(body, "body")
    assert {e.field for e in got} == {"headline", "body"}


def test_gazetteer_matches_names_over_several_tokens_with_an_ending() -> None:
    """A multi-word name is found token by token, its last word may carry a genitive ending."""
    text = "Die Politik der Vereinigten Staaten und Kasachstans."
    found = {text[m.start : m.end]: m.entity.id for m in gazetteer().find(text)}
    assert found.get("Kasachstans") == "iso3166:KZ"
    assert found.get("Vereinigten Staaten") == "iso3166:US"


def test_a_words_scores_do_not_depend_on_what_was_cached_before() -> None:
    """New word types are scored in batches: a sentence gets the same labels from a fresh model,
    from one that saw the other sentences first, and word by word, in any order."""
    model = load_model()
    assert model is not None
    sentences = [
        [
            "Bundeskanzler",
            "Olaf",
            "Scholz",
            "traf",
            "in",
            "Astana",
            "den",
            "Präsidenten",
            "Kassym-Schomart",
            "Tokajew",
            ".",
        ],
        [
            "Die",
            "Deutsche",
            "Bahn",
            "AG",
            "und",
            "die",
            "Gewerkschaft",
            "EVG",
            "verhandeln",
            "in",
            "Frankfurt",
            "am",
            "Main",
            "weiter",
            ".",
        ],
        [
            "Nach",
            "Angaben",
            "der",
            "Polizei",
            "in",
            "Wien",
            "wurde",
            "niemand",
            "verletzt",
            ",",
            "sagte",
            "ein",
            "Sprecher",
            "der",
            "ÖBB",
            ".",
        ],
    ]
    alone = []
    for words in sentences:
        fresh = load_model()
        assert fresh is not None
        alone.append(fresh.tag_words(words))
    assert all(any(label != "O" for label in labels) for labels in alone)  # names found: a real check
    reversed_order = [model.tag_words(words) for words in reversed(sentences)][::-1]
    word_by_word = load_model()
    assert word_by_word is not None
    for words in sentences:
        for word in words:
            word_by_word.tag_words([word])
    assert reversed_order == alone
    assert [word_by_word.tag_words(words) for words in sentences] == alone


def test_known_names_are_found_the_same_after_the_recognisers_word_ids_are_handed_out_anew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gazetteer's look-ups ride on the recogniser's word-type ids; when the recogniser clears
    its word cache and gives the ids to other words, known names are still found as by the
    gazetteer alone."""
    recognizer = EntityRecognizer()
    plain = "Die Sitzung dauerte bis zum Abend und endete ohne Beschluss."
    names = "Kasachstan und Österreich verhandeln mit der Ukraine über Gas."
    monkeypatch.setattr(ner, "CACHE_LIMIT", 5)  # every text clears the cache: ids are reused
    recognizer.mentions(plain)
    recognizer.mentions(names + " " + plain)
    found = {(m.start, m.end, m.known.id if m.known else None) for m in recognizer.mentions(names)}
    expected = {(m.start, m.end, m.entity.id) for m in gazetteer().find(names)}
    assert len(expected) == 3
    assert expected <= found
