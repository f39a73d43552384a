"""Read an upstream's ninjs document (1.x, 2.x or 3.x) into the fields of our Article.

ninjs 3.x spells properties in camelCase (``versionCreated``, ``altIds``, ``infoSources``),
2.x in lower case (``versioncreated``, ``altids``, ``infosources``), 1.x also has flat
``headline``, ``body_text`` and ``body_html`` and keys ``associations`` by name. Each is
looked up under every spelling. What we keep:

- headline: the ``main`` headline (else the first); markup is reduced to text;
- body: an HTML body (its ``<p>`` give the paragraphs) over a plain one (blank lines);
- by -> authors (one statement, as written); language;
- published_at: ``firstCreated``, else ``versionCreated``, else ``contentCreated``;
- guid: ``uri`` (required by every ninjs version; also the url when it is http(s));
- source: the ``publisher`` info source (else the first without a role); agency: the
  ``originator``;
- related: text associations with a headline become teasers (their first body or description
  is the lead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.intake.markup import html_paragraphs, html_text, text_paragraphs
from shared.messages import Teaser

NINJS_MEDIA_HINT = "ninjs"
_CONTENT_KEYS = ("headlines", "bodies", "headline", "body_text", "body_html")
_HTML_TYPES = ("html", "xhtml")
_MAIN_BODY_ROLES = ("main", "richtext")


class NinjsError(ValueError):
    """A ninjs document we cannot read; ``pointer`` says where (JSON Pointer)."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.pointer = pointer


@dataclass(frozen=True)
class NinjsContent:
    headline: str
    body: tuple[str, ...]
    guid: str
    url: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    agency: str | None = None
    related: tuple[Teaser, ...] = ()


def looks_like_ninjs(value: object) -> bool:
    """A JSON object shaped like ninjs: a ``uri`` (never one of our input item's fields) and content."""
    return isinstance(value, dict) and "uri" in value and any(key in value for key in _CONTENT_KEYS)


def _get(doc: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """The first present property among spellings: (its name, its value)."""
    for name in names:
        if name in doc and doc[name] is not None:
            return name, doc[name]
    return names[0], None


def _string(doc: Mapping[str, Any], where: str, *names: str) -> str | None:
    name, value = _get(doc, *names)
    if value is None:
        return None
    if not isinstance(value, str):
        raise NinjsError(f"`{name}` must be a string", f"{where}/{name}")
    return value.strip() or None


def _objects(doc: Mapping[str, Any], where: str, *names: str) -> list[tuple[str, dict[str, Any]]]:
    """An array of objects (or, as in ninjs 1.x associations, an object of them): (pointer, object)."""
    name, value = _get(doc, *names)
    if value is None:
        return []
    items: list[tuple[str, Any]]
    if isinstance(value, list):
        items = [(f"{where}/{name}/{index}", item) for index, item in enumerate(value)]
    elif isinstance(value, dict):
        items = [(f"{where}/{name}/{key}", item) for key, item in value.items()]
    else:
        raise NinjsError(f"`{name}` must be an array", f"{where}/{name}")
    for pointer, item in items:
        if not isinstance(item, dict):
            raise NinjsError(f"each of `{name}` must be an object", pointer)
    return items


def _is_html(part: Mapping[str, Any]) -> bool:
    _, content_type = _get(part, "contentType", "contenttype")
    return isinstance(content_type, str) and any(hint in content_type.lower() for hint in _HTML_TYPES)


def _value(part: dict[str, Any], pointer: str) -> str:
    value = part.get("value")
    if not isinstance(value, str):
        raise NinjsError("`value` must be a string", f"{pointer}/value")
    return value


def _headline(doc: Mapping[str, Any], where: str) -> str | None:
    headlines = _objects(doc, where, "headlines")
    main = [(p, h) for p, h in headlines if h.get("role") == "main"] or headlines
    for pointer, part in main:
        value = _value(part, pointer)
        text = html_text(value) if _is_html(part) else " ".join(value.split())
        if text:
            return text
    flat = _string(doc, where, "headline", "title")
    return html_text(flat) if flat else None


def _body(doc: Mapping[str, Any], where: str) -> tuple[str, ...]:
    bodies = _objects(doc, where, "bodies")
    # Prefer the main body (``richtext`` is a form of it); among its forms markup, which marks paragraphs.
    ranked = sorted(
        bodies, key=lambda item: (item[1].get("role", "main") not in _MAIN_BODY_ROLES, not _is_html(item[1]))
    )
    for pointer, part in ranked:
        value = _value(part, pointer)
        paragraphs = html_paragraphs(value) if _is_html(part) else text_paragraphs(value)
        if paragraphs:
            return paragraphs
    html = _string(doc, where, "body_html")
    if html:
        return html_paragraphs(html)
    text = _string(doc, where, "body_text")
    return text_paragraphs(text) if text else ()


def _moment(doc: Mapping[str, Any], where: str) -> datetime | None:
    for names in (
        ("firstCreated", "firstcreated"),
        ("versionCreated", "versioncreated"),
        ("contentCreated", "contentcreated"),
    ):
        raw = _string(doc, where, *names)
        if raw is None:
            continue
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError as error:
            raise NinjsError(f"`{names[0]}` is not an ISO 8601 date-time", f"{where}/{names[0]}") from error
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _sources(doc: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
    """(publisher, originating agency) from the info sources."""
    publisher = agency = None
    for pointer, source in _objects(doc, where, "infoSources", "infosources"):
        name = _string(source, pointer, "name")
        role = (_string(source, pointer, "role") or "").lower()
        if not name:
            continue
        if role == "originator" and agency is None:
            agency = name
        elif role in ("publisher", "") and publisher is None:
            publisher = name
    return publisher, agency


def _web_url(uri: str | None) -> str | None:
    return uri if uri and uri.lower().startswith(("http://", "https://")) else None


def _related(doc: Mapping[str, Any], where: str) -> tuple[Teaser, ...]:
    teasers: list[Teaser] = []
    for pointer, association in _objects(doc, where, "associations"):
        kind = association.get("type", "text")
        if kind not in ("text", "composite"):
            continue  # pictures, video, ...: nothing we publish
        headline = _headline(association, pointer)
        if not headline:
            continue
        lead = _body(association, pointer)
        if not lead:
            descriptions = _objects(association, pointer, "descriptions")
            lead = tuple(
                paragraph for p, d in descriptions[:1] for paragraph in text_paragraphs(_value(d, p))[:1]
            )
        uri = _string(association, pointer, "uri")
        teasers.append(Teaser(headline=headline, lead=lead[0] if lead else "", url=_web_url(uri)))
    return tuple(teasers)


def read_ninjs(doc: Mapping[str, Any]) -> NinjsContent:
    """The fields we keep from a ninjs document, or a NinjsError saying what and where."""
    uri = _string(doc, "", "uri")
    if not uri:
        raise NinjsError("a ninjs document needs a `uri`", "/uri")
    kind = doc.get("type", "text")
    if kind not in ("text", "composite"):
        raise NinjsError(f"only text items are accepted, not {kind!r}", "/type")
    headline = _headline(doc, "")
    if not headline:
        raise NinjsError("a ninjs document needs a headline", "/headlines")
    body = _body(doc, "")
    if not body:
        raise NinjsError("a ninjs document needs a non-empty body", "/bodies")
    by = _string(doc, "", "by")
    publisher, agency = _sources(doc, "")
    return NinjsContent(
        headline=headline,
        body=body,
        guid=uri,
        url=_web_url(uri),
        authors=(" ".join(by.split()),) if by else (),
        language=_string(doc, "", "language"),
        published_at=_moment(doc, ""),
        source=publisher,
        agency=agency,
        related=_related(doc, ""),
    )
