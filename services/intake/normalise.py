"""Turn whatever arrived (an input item, a scraped text page, an HTML page) into one clean Article."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError

from services.intake.charset import UndecodableTextError, decode_text
from services.intake.html import extract_html
from services.intake.inputs import ArticleIn
from services.intake.scraped import UnreadablePageError, parse_scraped_page
from shared.messages import Article, SourceFormat, Teaser

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


InputKind = Literal["json", "text", "html"]


class InputError(ValueError):
    """Input that holds no acceptable article.

    ``kind`` says what went wrong (``malformed-json``, ``invalid-article``, ``undecodable``,
    ``unreadable-article``); ``errors`` lists each fault with a JSON Pointer to where it is.
    """

    def __init__(self, kind: str, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = errors or []


def _pointer(location: Sequence[object]) -> str:
    """A pydantic error location as a JSON Pointer (RFC 6901)."""
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in location]
    return "/" + "/".join(parts) if parts else ""


def parse_item(data: bytes | str) -> ArticleIn:
    """A JSON input item, validated; every fault is reported with where it is."""
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError("malformed-json", f"The body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InputError("invalid-article", "An input item must be a JSON object.",
                         [{"pointer": "", "message": "not a JSON object"}])  # fmt: skip
    try:
        return ArticleIn.model_validate(value)
    except ValidationError as error:
        faults = [{"pointer": _pointer(fault["loc"]), "message": fault["msg"]} for fault in error.errors()]
        summary = "; ".join(f"{f['pointer'] or '/'}: {f['message']}" for f in faults[:5])
        raise InputError("invalid-article", summary, faults) from error


def read_input(
    kind: InputKind, data: bytes, *, charset: str | None = None, now: datetime | None = None
) -> Article:
    """Validate and normalise one input (a JSON item, a scraped text page, an HTML page)."""
    received_at = now or datetime.now(UTC)
    article_id = new_article_id(received_at.timestamp())
    if kind == "json":
        item = parse_item(data)
        return from_item(item, submission_for(item, article_id, received_at))
    submission = submission_for(None, article_id, received_at)
    if kind == "text":
        try:
            text = decode_text(data, charset)
        except UndecodableTextError as error:
            raise InputError("undecodable", str(error)) from error
        return from_text_page(text, submission)
    return from_html_page(data, submission)


def new_article_id(now: float | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, so ids sort by arrival."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


@dataclass(frozen=True)
class Submission:
    """Facts about one submission that do not come from its content."""

    article_id: str
    received_at: datetime
    url: str | None = None
    guid: str | None = None
    source: str | None = None
    language: str | None = None
    published_at: datetime | None = None


def _article(submission: Submission, fmt: SourceFormat, **content: object) -> Article:
    """The submission's facts, overridden by what the content itself says where it says it."""
    facts: dict[str, object] = {
        "id": submission.article_id,
        "received_at": submission.received_at,
        "format": fmt,
        "url": submission.url,
        "guid": submission.guid,
        "source": submission.source,
        "language": submission.language,
        "published_at": submission.published_at,
    }
    return Article.model_validate(facts | content)


def from_text_page(text: str, submission: Submission, where: str = "") -> Article:
    """A page scraped as text (like the seed): headline, body, byline, credit, teasers."""
    try:
        page = parse_scraped_page(text)
    except UnreadablePageError as error:
        raise InputError(
            "unreadable-article", str(error), [{"pointer": where, "message": str(error)}]
        ) from error
    return _article(
        submission,
        "text",
        headline=page.headline,
        body=page.body_paragraphs,
        site_name=page.site,
        authors=(page.by,) if page.by else (),
        outlet_code=page.outlet_code,
        agency=page.agency,
        image_credit=page.image_credit,
        related=tuple(Teaser(headline=t.headline, lead=t.lead) for t in page.teasers),
    )


def from_html_page(html: str | bytes, submission: Submission, where: str = "") -> Article:
    """An HTML page: main text and what the page declares about itself."""
    try:
        page = extract_html(html, url=submission.url)
    except UnreadablePageError as error:
        raise InputError(
            "unreadable-article", str(error), [{"pointer": where, "message": str(error)}]
        ) from error
    return _article(
        submission,
        "html",
        url=submission.url or page.url,
        language=submission.language or page.language,
        published_at=submission.published_at or page.published_at,
        headline=page.headline,
        body=page.body_paragraphs,
        site_name=page.site_name,
        authors=page.authors,
    )


def from_item(item: ArticleIn, submission: Submission) -> Article:
    """A JSON input item: structured, or carrying a whole page in ``text`` or ``html``."""
    if item.text:
        return from_text_page(item.text, submission, where="/text")
    if item.html:
        return from_html_page(item.html, submission, where="/html")
    return _article(
        submission,
        "json",
        headline=item.headline or "",
        body=item.body_paragraphs,
        authors=tuple(item.authors),
    )


def submission_for(item: ArticleIn | None, article_id: str, received_at: datetime) -> Submission:
    if item is None:
        return Submission(article_id=article_id, received_at=received_at)
    return Submission(
        article_id=article_id,
        received_at=received_at,
        url=item.url,
        guid=item.guid,
        source=item.source,
        language=item.language,
        published_at=item.published_at,
    )
