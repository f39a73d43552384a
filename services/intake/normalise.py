"""Turn whatever arrived (an input item, a scraped text page, an HTML page) into one clean Article."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from services.intake.charset import UndecodableTextError, decode_text
from services.intake.html import extract_html
from services.intake.inputs import ArticleIn
from services.intake.ninjs_in import NinjsError, looks_like_ninjs, read_ninjs
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

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, list[dict[str, str]]]]:
        # Rebuilt whole when it crosses from a page-reading worker process (see pages.py).
        return (InputError, (self.kind, str(self), self.errors))


def _pointer(location: Sequence[object]) -> str:
    """A pydantic error location as a JSON Pointer (RFC 6901)."""
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in location]
    return "/" + "/".join(parts) if parts else ""


MAX_JSON_DEPTH = 32


def _check_structure(value: object, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse nesting deeper than ``limit`` and lone surrogates (text no store can encode).

    Iterative, so a hostile document cannot exhaust the stack here.
    """
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict | list):
            if depth > limit:
                raise InputError("too-deep", f"The JSON nests deeper than {limit} levels.")
            children = [*current.keys(), *current.values()] if isinstance(current, dict) else current
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(current, str):
            try:
                current.encode("utf-8")
            except UnicodeEncodeError as error:
                raise InputError(
                    "malformed-json", "The JSON holds a lone surrogate escape (not Unicode text)."
                ) from error


def load_json(data: bytes | str) -> object:
    """JSON text as Python values, or an InputError (malformed, invalid UTF-8, too deep)."""
    try:
        value = json.loads(data)
    except RecursionError as error:
        raise InputError("too-deep", f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.") from error
    except UnicodeDecodeError as error:
        raise InputError("undecodable", f"The JSON is not valid UTF-8: {error}") from error
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise InputError("malformed-json", f"The body is not valid JSON: {error}") from error
    _check_structure(value)
    return value


def parse_item(data: bytes | str | object) -> ArticleIn:
    """A JSON input item (text, or values already loaded), validated; every fault says where it is."""
    value = load_json(data) if isinstance(data, bytes | str) else data
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
    kind: InputKind,
    data: bytes,
    *,
    charset: str | None = None,
    now: datetime | None = None,
    ninjs: bool = False,
) -> Article:
    """Validate and normalise one input (a JSON item or ninjs document, a scraped text page, an HTML
    page). JSON is read as ninjs when ``ninjs`` says so (the media type did) or when it looks like it.
    """
    received_at = now or datetime.now(UTC)
    article_id = new_article_id(received_at.timestamp())
    if kind == "json":
        value = load_json(data)
        if ninjs or looks_like_ninjs(value):
            if not isinstance(value, dict):
                raise InputError("invalid-article", "A ninjs document must be a JSON object.",
                                 [{"pointer": "", "message": "not a JSON object"}])  # fmt: skip
            return from_ninjs(value, Submission(article_id=article_id, received_at=received_at))
        item = parse_item(value)
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


@contextmanager
def _unreadable_page(where: str) -> Iterator[None]:
    """A page with no article in it is the client's problem: say so, and where."""
    try:
        yield
    except UnreadablePageError as error:
        raise InputError(
            "unreadable-article", str(error), [{"pointer": where, "message": str(error)}]
        ) from error


def from_text_page(text: str, submission: Submission, where: str = "") -> Article:
    """A page scraped as text (like the seed): headline, body, byline, credit, teasers."""
    with _unreadable_page(where):
        page = parse_scraped_page(text)
    return _article(
        submission,
        "text",
        headline=page.headline,
        body=page.body_paragraphs,
        site_name=page.site,
        authors=page.authors,
        outlet_code=page.outlet_code,
        agency=page.agency,
        image_credit=page.image_credit,
        related=tuple(Teaser(headline=t.headline, lead=t.lead) for t in page.teasers),
    )


def from_html_page(html: str | bytes, submission: Submission, where: str = "") -> Article:
    """An HTML page: main text and what the page declares about itself."""
    with _unreadable_page(where):
        page = extract_html(html, url=submission.url)
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


def from_ninjs(doc: dict[str, Any], submission: Submission) -> Article:
    """A ninjs document from an upstream that already speaks it (see ``ninjs_in``)."""
    try:
        content = read_ninjs(doc)
    except NinjsError as error:
        raise InputError(
            "invalid-article", str(error), [{"pointer": error.pointer, "message": str(error)}]
        ) from error
    return _article(
        submission,
        "ninjs",
        headline=content.headline,
        body=content.body,
        url=content.url,
        guid=content.guid,
        source=content.source,
        agency=content.agency,
        authors=content.authors,
        language=content.language,
        published_at=content.published_at,
        related=content.related,
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
