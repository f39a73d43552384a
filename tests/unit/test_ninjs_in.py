"""ninjs from upstream (1.x, 2.x, 3.x) read into our article without losing the fields we keep."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from services.intake.ninjs_in import NinjsError, looks_like_ninjs, read_ninjs
from services.intake.normalise import InputError, read_input
from shared.messages import Teaser
from shared.ninjs import to_ninjs

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"

NINJS_3 = {
    "uri": "https://wire.example/2026/11/26/port-strike",
    "standard": {"name": "ninjs", "version": "3.1"},
    "type": "text",
    "language": "en-GB",
    "firstCreated": "2026-11-26T08:00:00Z",
    "versionCreated": "2026-11-26T09:30:00+01:00",
    "by": "Sam Example and  Kim Sample",
    "headlines": [
        {"role": "short", "value": "Strike over"},
        {"role": "main", "value": "Port strike ends after three days"},
    ],
    "bodies": [
        {"role": "main", "contentType": "text/plain", "value": "Dock workers return. The union agreed."},
        {
            "role": "richtext",
            "contentType": "text/html",
            "value": "<p>Dock workers will return to work on Friday.</p>\n<p>The union <b>agreed</b>.</p>",
        },
    ],
    "infoSources": [
        {"name": "Harbour Gazette", "role": "publisher", "uri": "https://gazette.example/"},
        {"name": "AFP", "role": "originator"},
    ],
    "associations": [
        {
            "name": "related-1",
            "uri": "https://gazette.example/news/ferry-winter",
            "type": "text",
            "headlines": [{"value": "Ferry timetable changes for winter"}],
            "descriptions": [{"value": "Fewer crossings at night from December."}],
        },
        {"name": "photo", "uri": "https://gazette.example/img/1.jpg", "type": "picture"},
    ],
}

NINJS_2 = {
    "uri": "urn:wire:2026:budget-0001",
    "type": "text",
    "language": "de",
    "versioncreated": "2026-11-26T07:15:00Z",
    "headlines": [{"value": "Stadtrat beschließt neuen Haushalt"}],
    "bodies": [{"contenttype": "text/plain", "value": "Erster Absatz.\n\nZweiter\nAbsatz."}],
    "infosources": [{"name": "Rheinische Wochenpost"}],
    "associations": [
        {
            "name": "related",
            "uri": "urn:wire:2026:pool",
            "headlines": [{"value": "Bäder schließen früher"}],
            "bodies": [{"value": "Die Stadt spart bei den Bädern."}],
        }
    ],
}


def test_ninjs_3_keeps_headline_paragraphs_byline_language_dates_sources_and_teasers() -> None:
    """The main headline, paragraphs from the HTML body, by, language, firstCreated, publisher,
    originator and text associations (pictures dropped) all come through."""
    content = read_ninjs(NINJS_3)
    assert content.headline == "Port strike ends after three days"
    assert content.body == ("Dock workers will return to work on Friday.", "The union agreed.")
    assert content.authors == ("Sam Example and Kim Sample",)
    assert content.language == "en-GB"
    assert content.published_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert content.guid == content.url == "https://wire.example/2026/11/26/port-strike"
    assert (content.source, content.agency) == ("Harbour Gazette", "AFP")
    assert content.related == (
        Teaser(
            headline="Ferry timetable changes for winter",
            lead="Fewer crossings at night from December.",
            url="https://gazette.example/news/ferry-winter",
        ),
    )


def test_ninjs_2_lower_case_properties_are_read_the_same_way() -> None:
    """2.x spellings (versioncreated, infosources, contenttype); a non-web uri is a guid, not a url."""
    content = read_ninjs(NINJS_2)
    assert content.headline == "Stadtrat beschließt neuen Haushalt"
    assert content.body == ("Erster Absatz.", "Zweiter Absatz.")
    assert content.published_at == datetime(2026, 11, 26, 7, 15, tzinfo=UTC)
    assert (content.guid, content.url) == ("urn:wire:2026:budget-0001", None)
    assert content.source == "Rheinische Wochenpost"
    assert content.related == (
        Teaser(headline="Bäder schließen früher", lead="Die Stadt spart bei den Bädern."),
    )


def test_ninjs_1_flat_headline_and_html_body_are_read() -> None:
    """1.x ``headline`` and ``body_html`` (associations keyed by name) still give an article."""
    doc = {
        "uri": "urn:old:1",
        "headline": "Old style",
        "body_html": "<p>One.</p><p>Two.</p>",
        "associations": {"main": {"uri": "urn:old:2", "headline": "Teaser"}},
    }
    content = read_ninjs(doc)
    assert (content.headline, content.body) == ("Old style", ("One.", "Two."))
    assert content.related == (Teaser(headline="Teaser"),)


@pytest.mark.parametrize(
    ("doc", "pointer"),
    [
        ({"uri": "u", "headlines": [{"value": "H"}]}, "/bodies"),
        ({"uri": "u", "bodies": [{"value": "B"}]}, "/headlines"),
        ({"uri": "u", "headlines": "H", "bodies": [{"value": "B"}]}, "/headlines"),
        ({"uri": "u", "headlines": [{"value": 3}], "bodies": [{"value": "B"}]}, "/headlines/0/value"),
        ({"uri": "u", "type": "picture", "headlines": [{"value": "H"}]}, "/type"),
        ({"uri": "u", "headline": "H", "body_text": "B", "firstCreated": "yesterday"}, "/firstCreated"),
        ({"uri": "", "headline": "H", "body_text": "B"}, "/uri"),
    ],
)
def test_unreadable_ninjs_says_where(doc: dict, pointer: str) -> None:
    """Missing or mistyped content is a NinjsError pointing at the property at fault."""
    with pytest.raises(NinjsError) as caught:
        read_ninjs(doc)
    assert caught.value.pointer == pointer


def test_ninjs_is_recognised_by_its_shape_and_our_items_are_not() -> None:
    """A ``uri`` with headlines/bodies is ninjs; our input item (no ``uri``) is not."""
    assert looks_like_ninjs(NINJS_3) and looks_like_ninjs(NINJS_2)
    assert not looks_like_ninjs({"headline": "H", "body": "B", "guid": "g"})
    assert not looks_like_ninjs({"uri": "u"})
    assert not looks_like_ninjs([NINJS_3])


def test_posted_ninjs_becomes_an_article_whose_output_is_valid_ninjs_3_1() -> None:
    """read_input turns a ninjs document into an Article (format ninjs) that renders as valid ninjs 3.1."""
    article = read_input("json", json.dumps(NINJS_3).encode())
    assert article.format == "ninjs"
    assert article.guid == NINJS_3["uri"]
    assert article.headline == "Port strike ends after three days"
    schema = json.loads((SCHEMAS / "ninjs-schema_3.1.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(to_ninjs(article))


def test_the_media_type_forces_ninjs_reading() -> None:
    """With ninjs=True (application/ninjs+json) an empty document is a ninjs error, not an item error."""
    with pytest.raises(InputError) as caught:
        read_input("json", b'{"uri": "urn:x"}', ninjs=True)
    assert caught.value.errors[0]["pointer"] == "/headlines"


def test_our_ninjs_output_reads_back_to_the_same_content() -> None:
    """Round trip: an article rendered as ninjs and read back keeps headline, body, by, sources, teasers."""
    original = read_input("json", json.dumps(NINJS_3).encode())
    again = read_input("json", json.dumps(to_ninjs(original)).encode())
    for field in ("headline", "body", "authors", "language", "source", "agency", "related"):
        assert getattr(again, field) == getattr(original, field), field
