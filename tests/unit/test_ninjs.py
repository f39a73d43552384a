"""The published article is a valid ninjs 3.1 document carrying what the stages learned."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from shared.ninjs import STORY_ALT_ID_ROLE, to_ninjs, with_story
from tests import factories

pytestmark = pytest.mark.unit

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "shared" / "schemas" / "ninjs-schema_3.1.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _errors(document: dict) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def test_received_article_alone_is_valid_ninjs() -> None:
    """An article before tagging already renders as a valid ninjs 3.1 document."""
    assert _errors(to_ninjs(factories.article())) == []


def test_fully_processed_article_is_valid_ninjs() -> None:
    """With tags and a verdict the document stays valid (no extension properties)."""
    document = to_ninjs(factories.article(), factories.tags(), factories.verdict())
    assert _errors(document) == []


def test_schema_rejects_an_extension_property() -> None:
    """The validator is strict: a property ninjs does not define is an error (so the tests can fail)."""
    document = to_ninjs(factories.article())
    document["storyId"] = "x"
    assert _errors(document) != []


def test_document_carries_language_subjects_entities_and_story() -> None:
    """Language, IPTC subjects, each entity once, and the story id appear in standard places."""
    document = to_ninjs(factories.article(), factories.tags(), factories.verdict(story_id="01STORY"))
    assert document["language"] == "de"
    assert document["subjects"][0]["uri"] == "http://cv.iptc.org/newscodes/mediatopic/11000000"
    assert [place["literal"] for place in document["places"]] == ["iso3166:KZ"]
    assert [person["name"] for person in document["people"]] == ["Wladimir Putin"]
    assert {"role": STORY_ALT_ID_ROLE, "value": "01STORY"} in document["altIds"]
    assert document["bodies"][0]["value"].count("\n\n") == 1
    assert document["associations"][0]["headlines"][0]["value"] == "Another story"


def test_with_story_names_the_story_as_a_verdict_does() -> None:
    """A stored document given its story id afterwards equals the document rendered with the
    verdict; naming another story replaces the first rather than adding a second."""
    article, tags = factories.article(), factories.tags()
    verdict = factories.verdict(story_id="01STORY")
    assert with_story(to_ninjs(article, tags), "01STORY") == to_ninjs(article, tags, verdict)
    moved = with_story(with_story(to_ninjs(article, tags), "01OLD"), "01STORY")
    assert [alt for alt in moved["altIds"] if alt["role"] == STORY_ALT_ID_ROLE] == [
        {"role": STORY_ALT_ID_ROLE, "value": "01STORY"}
    ]
