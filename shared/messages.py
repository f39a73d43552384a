"""The contract between newswire's services: events on the stage streams and the names of those streams.

Every model here is frozen: an event, once published, is a fact. Event names are past tense.
Stage streams carry these models (FastStream's envelope, JSON body); subscriber streams carry
plain fields instead (``SubscriberEntry``) so that any Redis client can read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Stage streams, in the order an article passes through them.
ARTICLES_RECEIVED = "articles.received"
ARTICLES_TAGGED = "articles.tagged"
ARTICLES_UNIQUE = "articles.unique"
ARTICLES_DUPLICATES = "articles.duplicates"

# Subscriber-facing streams (plain fields, no framework envelope).
TOPIC_STREAM_PREFIX = "newswire:topic:"
ALL_TOPIC = "all"
SUBSCRIPTION_STREAM_PREFIX = "newswire:sub:"
DEAD_LETTER_PREFIX = "newswire:dlq:"

EVENT_PUBLISHED = "article.published"
EVENT_UPDATED = "article.updated"
SubscriberEvent = Literal["article.published", "article.updated"]

EntityType = Literal["PER", "ORG", "LOC"]
TextField = Literal["headline", "body"]
VerdictStatus = Literal["unique", "duplicate", "update"]
SourceFormat = Literal["json", "text", "html", "ninjs", "feed"]

PARAGRAPH_SEPARATOR = "\n\n"


def topic_stream(slug: str) -> str:
    """The subscriber stream of one topic slug (``all`` for every article)."""
    return f"{TOPIC_STREAM_PREFIX}{slug}"


def dead_letter_stream(stage: str) -> str:
    """Where a stage puts the messages it gave up on."""
    return f"{DEAD_LETTER_PREFIX}{stage}"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Teaser(Frozen):
    """A related story shown on the page (kept as an association, never published as an article)."""

    headline: str
    lead: str = ""
    url: str | None = None


class Article(Frozen):
    """One article as intake read it: cleaned structure, no tags yet."""

    id: str
    version: int = 1
    received_at: datetime
    format: SourceFormat
    headline: str
    body: tuple[str, ...] = Field(description="Paragraphs of the main text, cleaned.")
    url: str | None = None
    guid: str | None = None
    source: str | None = Field(default=None, description="Who sent or published it (outlet).")
    site_name: str | None = None
    authors: tuple[str, ...] = ()
    outlet_code: str | None = None
    agency: str | None = None
    image_credit: str | None = None
    language: str | None = Field(default=None, description="Language the input declared, if any.")
    published_at: datetime | None = None
    related: tuple[Teaser, ...] = ()

    @property
    def body_text(self) -> str:
        """The body as published: paragraphs separated by a blank line (entity offsets use it)."""
        return PARAGRAPH_SEPARATOR.join(self.body)


class Subject(Frozen):
    """An IPTC Media Topic assigned to an article."""

    code: str = Field(description="qcode, e.g. medtop:11000000")
    uri: str
    name: str
    slug: str | None = Field(default=None, description="Followable topic slug, if the topic has one.")
    level: int = 1
    relevance: int = Field(ge=0, le=100)
    confidence: float = Field(ge=0.0, le=1.0)


class Entity(Frozen):
    """A mention of a person, organisation or place, as written, with offsets into the published text."""

    type: EntityType
    text: str
    field: TextField
    start: int
    end: int
    id: str | None = Field(default=None, description="Canonical id when known, e.g. iso3166:KZ.")


class Tags(Frozen):
    language: str = Field(description="ISO 639-1 code, or 'und' when it cannot be told.")
    subjects: tuple[Subject, ...] = ()
    entities: tuple[Entity, ...] = ()
    keywords: tuple[str, ...] = ()
    topics: tuple[str, ...] = Field(
        default=(),
        description="Followable topic slugs (e.g. 'politics', 'place:KZ'): the pusher routes on these.",
    )


class Verdict(Frozen):
    status: VerdictStatus
    story_id: str
    duplicate_of: str | None = None


class ArticleReceived(Frozen):
    """Intake accepted an article (stream ``articles.received``)."""

    article: Article


class ArticleTagged(Frozen):
    """The tagger tagged an article (stream ``articles.tagged``)."""

    article: Article
    tags: Tags


class ArticleDeduplicated(Frozen):
    """Dedup judged an article (``articles.unique`` for unique and update, else ``articles.duplicates``)."""

    article: Article
    tags: Tags
    verdict: Verdict


class SubscriberEntry(Frozen):
    """One entry of a subscriber stream (``newswire:topic:*``, ``newswire:sub:*``): plain fields,
    no framework envelope, so that any Redis client in any language can read it."""

    id: str = Field(description="The article's id.")
    event: SubscriberEvent = Field(description="article.published, or article.updated for an update.")
    topic: str = Field(description="The topic slug, or on a subscription stream the subscription's name.")
    article: str = Field(description="The article as a ninjs 3.1 JSON document.")

    def fields(self) -> dict[str, str]:
        return {"id": self.id, "event": self.event, "topic": self.topic, "article": self.article}


class WebhookPayload(Frozen):
    """The body of a webhook delivery (Standard Webhooks' ``type``, ``timestamp``, ``data``)."""

    type: SubscriberEvent
    timestamp: str = Field(description="ISO 8601, UTC: when the article entered the subscription.")
    data: dict[str, object] = Field(description="The article as a ninjs 3.1 document.")
