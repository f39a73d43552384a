"""Small builders of contract objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.messages import Article, Entity, Subject, Tags, Teaser, Verdict

RECEIVED_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def article(article_id: str = "01TESTARTICLE", **overrides: object) -> Article:
    values: dict[str, object] = {
        "id": article_id,
        "received_at": RECEIVED_AT,
        "format": "json",
        "headline": "Putin will bei Besuch in Kasachstan Beziehungen festigen",
        "body": (
            "Der russische Präsident Wladimir Putin ist zu einem Besuch in Kasachstan eingetroffen.",
            "Kasachstan ist ein langjähriger Partner Russlands.",
        ),
        "source": "Deutsche Tageszeitung",
        "authors": ("V. Sørensen",),
        "agency": "AFP",
        "related": (Teaser(headline="Another story", lead="Its lead."),),
    }
    values.update(overrides)
    return Article.model_validate(values)


def tags(**overrides: object) -> Tags:
    values: dict[str, object] = {
        "language": "de",
        "subjects": (
            Subject(
                code="medtop:11000000",
                uri="http://cv.iptc.org/newscodes/mediatopic/11000000",
                name="politics",
                slug="politics",
                relevance=90,
                confidence=0.8,
            ),
        ),
        "entities": (
            Entity(type="PER", text="Wladimir Putin", field="body", start=25, end=39, id=None),
            Entity(type="LOC", text="Kasachstan", field="headline", start=26, end=36, id="iso3166:KZ"),
            Entity(type="LOC", text="Kasachstan", field="body", start=65, end=75, id="iso3166:KZ"),
        ),
        "keywords": ("Besuch in Kasachstan",),
        "topics": ("politics", "place:KZ"),
    }
    values.update(overrides)
    return Tags.model_validate(values)


def verdict(
    status: str = "unique", story_id: str = "01TESTARTICLE", duplicate_of: str | None = None
) -> Verdict:
    return Verdict.model_validate({"status": status, "story_id": story_id, "duplicate_of": duplicate_of})
