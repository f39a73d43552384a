"""Read one article out of a whole HTML news page.

trafilatura finds the main text; around it we use what the page itself declares (JSON-LD
``NewsArticle``, ``og:``/``article:`` meta tags, ``<html lang>``) and fix, generically, the causes
of the extraction errors measured in ``evaluation/pages.py``:

- UI that is in the markup but not on the reader's screen (ARIA dialogs and status toasts,
  ``hidden``/``aria-hidden`` elements, ``display:none``) is removed before extraction: extractors
  read it as text.
- Image captions are removed: they describe a photo, they are not the article.
- The lead paragraph ("standfirst") often sits in the page header, outside the container the
  extractor picks; when the page's declared description is shown as an element of the page and
  is missing from the extraction, it is put back in front.
- Page furniture that the extractor keeps is dropped paragraph by paragraph: a heading ending in a
  colon (it introduced a list of links that was removed), "follow us / write to us" paragraphs
  (several social-network or mail links), short paragraphs that are mostly link text ("Our
  Standards: <link>"), and UI junk lines ("Anzeige", "Teilen:").
- When the JSON-LD ``articleBody`` is much longer than the extraction, it is used instead.
"""

from __future__ import annotations

import copy
import html as html_lib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import lxml.etree
import lxml.html
import trafilatura

from services.intake.charset import UndecodableTextError, decode_html
from services.intake.scraped import UnreadablePageError, is_ui_junk

__all__ = [
    "DEFAULT_RULES",
    "ExtractedPage",
    "ExtractionRules",
    "UnreadablePageError",
    "extract_html",
]


@dataclass(frozen=True)
class ExtractedPage:
    """The article of one HTML page: main text as paragraphs plus what the page declares."""

    headline: str
    body_paragraphs: tuple[str, ...]
    authors: tuple[str, ...]
    published_at: datetime | None
    site_name: str | None
    language: str | None
    description: str | None
    url: str | None


@dataclass(frozen=True)
class ExtractionRules:
    """Which of our fixes around trafilatura run. All are on by default; the evaluation switches
    them off one at a time to show what each is worth on real pages."""

    exclude_comments: bool = True  # reader comments are not the article
    remove_hidden_ui: bool = True  # ARIA dialogs/toasts/navigation, hidden elements, form controls
    remove_ui_containers: bool = True  # containers named modal/dialog/cookie/newsletter/...
    remove_captions: bool = True  # <figcaption>: describes a photo
    drop_furniture: bool = True  # colon headings, contact prompts, link-dominated paragraphs
    drop_ui_junk: bool = True  # lines such as "Anzeige", "Teilen:", cookie prompts
    drop_headline_repeat: bool = True  # kicker/headline lines opening the extracted text
    restore_lead: bool = True  # the declared description shown in the page header
    prefer_article_body: bool = True  # JSON-LD articleBody when clearly longer


DEFAULT_RULES = ExtractionRules()

# --------------------------------------------------------------------------------------------
# What is removed before extraction (data, not branches)

# ARIA roles of page regions that are never the article: dialogs, toasts, navigation, banners.
NON_CONTENT_ROLES: frozenset[str] = frozenset(
    {
        "alert",
        "alertdialog",
        "banner",
        "complementary",
        "contentinfo",
        "dialog",
        "menu",
        "menubar",
        "navigation",
        "search",
        "status",
        "toolbar",
        "tooltip",
    }
)
# Elements that are interaction, never article text.
NON_CONTENT_TAGS: frozenset[str] = frozenset(
    {"dialog", "template", "button", "label", "select", "option", "textarea", "input"}
)
# Classes that hide an element from the screen (CSS frameworks' conventions).
HIDDEN_CLASSES: frozenset[str] = frozenset(
    {
        "hidden",
        "is-hidden",
        "u-hidden",
        "d-none",
        "sr-only",
        "visuallyhidden",
        "visually-hidden",
        "screen-reader-text",
        "screen-reader-only",
    }
)
# Class/id name parts of UI containers (``password-modal``, ``cookie-banner``, ``b-dialog``).
NON_CONTENT_NAME_PARTS: frozenset[str] = frozenset(
    {
        "modal",
        "dialog",
        "popup",
        "lightbox",
        "cookie",
        "cookies",
        "consent",
        "gdpr",
        "newsletter",
        "login",
        "signup",
        "registration",
        "toast",
        "tooltip",
    }
)
# A container holding this share of the page's text is the page, whatever its name says.
_UI_CONTAINER_MAX_TEXT_SHARE = 0.5
_NAME_PART_SPLIT_RE = re.compile(r"[\s_-]+")
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

# Links that make a paragraph a "follow us / write to us" prompt when it has several of them: a
# mail address, or the home of an account on a social network (one path segment at most, so that
# hashtag and post links in an embedded post do not count).
CONTACT_LINK_RE = re.compile(
    r"^mailto:|^(?:https?:)?//(?:[\w-]+\.)*(?:facebook|twitter|x|instagram|linkedin|youtube"
    r"|tiktok|whatsapp|telegram|threads|mastodon|pinterest|flipboard)\.(?:com|net|org|me|social)"
    r"(?::\d+)?(?:/[^/?#]*)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_CONTACT_LINKS_PER_PROMPT = 2
# A short paragraph that is mostly link text is a pointer elsewhere, not article text.
_LINK_PARAGRAPH_MAX_WORDS = 20
_LINK_PARAGRAPH_MIN_SHARE = 0.5
# The lead must read as a sentence or two, and be shown as (nearly) a whole element.
_LEAD_MIN_WORDS = 8
_LEAD_ELEMENT_SLACK = 1.3
_LEAD_TAGS = ("p", "div", "span", "strong", "b", "em", "h2", "h3", "section", "header")
# Use the JSON-LD articleBody when the extraction has less than this share of its text.
_ARTICLE_BODY_MIN_SHARE = 0.6
# A short line among the first few whose words are (nearly) all in a declared title repeats the
# headline (kicker, title, or both run together).
_HEADLINE_PART_MAX_WORDS = 20
_HEADLINE_REPEAT_WINDOW = 3
_HEADLINE_REPEAT_MIN_SHARE = 0.8

# "Headline - Site" in a <title>.
_TITLE_SEPARATOR_RE = re.compile(r"\s+(?:[-|\u2013\u2014]|::)\s+")
# Regions whose headings title something else than the page.
_SIDE_REGIONS = ("aside", "nav", "footer")

# JSON-LD types that describe the article itself.
_ARTICLE_TYPE_RE = re.compile(r"(?:Article|BlogPosting|Report)$")

# Blocks of trafilatura's XML output that hold text, and those that may only group them.
_TEXT_BLOCKS = frozenset({"p", "head", "list", "table", "code"})
_GROUP_BLOCKS = frozenset({"div", "quote", "section"})


# --------------------------------------------------------------------------------------------
# Public API


def extract_html(
    html: str | bytes, url: str | None = None, *, rules: ExtractionRules = DEFAULT_RULES
) -> ExtractedPage:
    """The article of an HTML page; bytes are decoded per the page's declared charset.

    Raises ``UnreadablePageError`` when the page has no main text.
    """
    tree = _parse(_decoded(html))
    declared = _declared_metadata(tree)
    cleaned = _without_non_content(tree, rules)
    # Headings count once hidden UI is gone: a navigation landmark may carry an <h1> of its own.
    declared.titles = _unique_texts(*declared.titles, *_h1_texts(cleaned))
    declared.headline = _shown_title(cleaned, declared.titles)
    paragraphs = _main_paragraphs(cleaned, url or declared.url, rules)
    if rules.drop_headline_repeat:
        paragraphs = _without_headline_repeat(paragraphs, declared.titles)
    if rules.restore_lead:
        paragraphs = _with_lead(paragraphs, cleaned, declared.descriptions)
    if rules.prefer_article_body:
        paragraphs = _prefer_article_body(paragraphs, declared.article_body)
    if not paragraphs:
        raise UnreadablePageError("no main text: the page has no article text that could be found")
    if declared.needs_fallback():
        _fill_from_trafilatura(declared, tree)
    return ExtractedPage(
        headline=declared.headline or "",
        body_paragraphs=tuple(paragraphs),
        authors=declared.authors,
        published_at=declared.published_at,
        site_name=declared.site_name,
        language=declared.language,
        description=declared.descriptions[0] if declared.descriptions else None,
        url=url or declared.url,
    )


# --------------------------------------------------------------------------------------------
# Parsing


def _decoded(html: str | bytes) -> str:
    if not isinstance(html, bytes):
        return html
    try:
        return decode_html(html)
    except UndecodableTextError as error:
        raise UnreadablePageError(f"no main text: {error}") from error


def _parse(text: str) -> lxml.html.HtmlElement:
    """The document tree; an empty or non-HTML text is an unreadable page."""
    if not text.strip():
        raise UnreadablePageError("no main text: the page is empty")
    # Parse UTF-8 bytes with the encoding fixed: a str may carry a stale <meta charset> or an XML
    # declaration, which lxml would otherwise honour or reject.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        tree = lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)
    except (lxml.etree.ParserError, ValueError) as error:
        raise UnreadablePageError(f"no main text: the page is not parseable HTML ({error})") from error
    if tree is None:
        raise UnreadablePageError("no main text: the page is not parseable HTML")
    return tree


# --------------------------------------------------------------------------------------------
# What the page declares


@dataclass
class _Declared:
    headline: str | None = None
    titles: list[str] = field(default_factory=list)  # every title the page declares
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    site_name: str | None = None
    language: str | None = None
    descriptions: list[str] = field(default_factory=list)
    url: str | None = None
    article_body: str | None = None

    def needs_fallback(self) -> bool:
        return not (self.headline and self.authors and self.published_at and self.site_name)


def _fill_from_trafilatura(declared: _Declared, tree: lxml.html.HtmlElement) -> None:
    """Fill what the page does not declare from trafilatura's metadata search (visible bylines,
    dates in the text, the title)."""
    found = trafilatura.extract_metadata(copy.deepcopy(tree), extensive=False)
    if found is None:
        return
    declared.headline = declared.headline or _first_text(found.title)
    if not declared.authors and found.author:
        declared.authors = tuple(_unique_texts(*found.author.split(";")))
    if declared.published_at is None and found.date:
        declared.published_at = _parse_datetime(found.date)
    sitename = _first_text(found.sitename)
    if not declared.site_name and sitename and not sitename.startswith(("http://", "https://")):
        declared.site_name = sitename


def _declared_metadata(tree: lxml.html.HtmlElement) -> _Declared:
    """Metadata from JSON-LD first, then og:/article:/name meta tags, then plain HTML."""
    article = _json_ld_article(tree)
    meta = _meta_tags(tree)
    publisher = article.get("publisher")
    declared = _Declared(
        titles=_unique_texts(
            article.get("headline"),
            meta.get("og:title"),
            meta.get("twitter:title"),
            *_title_texts(tree),
        ),
        authors=_json_ld_people(article.get("author")) or _meta_authors(meta),
        published_at=_first_datetime(
            article.get("datePublished"),
            meta.get("article:published_time"),
            meta.get("og:published_time"),
            meta.get("date"),
            meta.get("dc.date"),
            meta.get("dcterms.date"),
        ),
        site_name=_first_text(
            meta.get("og:site_name"),
            publisher.get("name") if isinstance(publisher, dict) else None,
        ),
        language=_language(tree, article, meta),
        descriptions=_unique_texts(
            article.get("description"),
            meta.get("og:description"),
            meta.get("description"),
            meta.get("twitter:description"),
        ),
        url=_first_text(
            _canonical_link(tree),
            meta.get("og:url"),
            article.get("url"),
            article.get("mainEntityOfPage"),
        ),
        article_body=_article_body(article.get("articleBody")),
    )
    if declared.url is not None and not declared.url.startswith(("http://", "https://")):
        declared.url = None
    return declared


def _shown_title(tree: lxml.html.HtmlElement, titles: list[str]) -> str | None:
    """The first declared title that the page also shows (a CMS may put its own name in og:title),
    else the first declared title."""
    body = tree.find("body")
    shown = _norm_space(" ".join(_visible_texts(body))).casefold() if body is not None else ""
    return next((t for t in titles if t.casefold() in shown), titles[0] if titles else None)


def _h1_texts(tree: lxml.html.HtmlElement) -> list[str]:
    """Top headings outside side regions; a label ending in a colon titles a box, not the page."""
    return [
        text
        for heading in tree.iter("h1")
        if next(heading.iterancestors(*_SIDE_REGIONS), None) is None
        and (text := _norm_space(heading.text_content()))
        and not text.endswith(":")
    ]


def _json_ld_article(tree: lxml.html.HtmlElement) -> dict[str, Any]:
    """The first JSON-LD object typed as an article (``NewsArticle``, ``Article``, ...)."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text_content(), strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; the page's other declarations still count
        for item in _json_ld_items(data):
            types = item.get("@type")
            names = types if isinstance(types, list) else [types]
            if any(isinstance(name, str) and _ARTICLE_TYPE_RE.search(name) for name in names):
                return item
    return {}


def _json_ld_items(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _json_ld_items(entry)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _json_ld_items(graph)


def _article_body(value: Any) -> str | None:
    """The JSON-LD articleBody with its line breaks (they separate paragraphs), entities resolved."""
    return html_lib.unescape(value) if isinstance(value, str) and value.strip() else None


def _json_ld_people(value: Any) -> tuple[str, ...]:
    """Author names from a JSON-LD ``author``; organisations (the outlet itself) are not authors."""
    entries = value if isinstance(value, list) else [value]
    names: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, dict) and entry.get("@type") != "Organization":
            name = entry.get("name")
            if isinstance(name, str):
                names.append(name)
    return tuple(_unique_texts(*names))


def _meta_tags(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """``property``/``name`` -> ``content`` of the page's meta tags (first one wins), lowercased keys."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if key and content and key not in found:
            found[key] = content
    return found


def _meta_authors(meta: dict[str, str]) -> tuple[str, ...]:
    candidates = (meta.get("author"), meta.get("article:author"))
    # article:author is often a profile URL, which is no name.
    names = [c for c in candidates if c and not c.startswith(("http://", "https://"))]
    # Only ";" separates authors: a comma may separate a name from a place ("Name, London").
    return tuple(_unique_texts(*(part for name in names for part in name.split(";"))))


def _language(tree: lxml.html.HtmlElement, article: dict[str, Any], meta: dict[str, str]) -> str | None:
    """Primary language subtag (``de``) from ``<html lang>``, JSON-LD, og:locale or Content-Language."""
    in_language = article.get("inLanguage")
    for tag in (
        tree.get("lang"),
        tree.get("xml:lang"),
        in_language if isinstance(in_language, str) else None,
        meta.get("og:locale"),
        meta.get("content-language"),
        _http_equiv(tree, "content-language"),
    ):
        if tag:
            primary = re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()
            if re.fullmatch(r"[a-z]{2,3}", primary):
                return primary
    return None


def _http_equiv(tree: lxml.html.HtmlElement, name: str) -> str | None:
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").strip().lower() == name:
            return meta.get("content")
    return None


def _canonical_link(tree: lxml.html.HtmlElement) -> str | None:
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return link.get("href")
    return None


def _title_texts(tree: lxml.html.HtmlElement) -> list[str]:
    """The <title>, and its longest part when it is "Headline - Site" or "Site | Headline"."""
    title = tree.find(".//title")
    if title is None:
        return []
    text = _norm_space(title.text_content())
    parts = [part.strip() for part in _TITLE_SEPARATOR_RE.split(text)]
    return [max(parts, key=len), text] if len(parts) > 1 else [text]


def _first_datetime(*values: Any) -> datetime | None:
    for value in values:
        if isinstance(value, str) and (parsed := _parse_datetime(value)) is not None:
            return parsed
    return None


def _parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 date or date-time; a value without zone is taken as UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Cleaning the tree before extraction


def _without_non_content(tree: lxml.html.HtmlElement, rules: ExtractionRules) -> lxml.html.HtmlElement:
    """A copy of the tree without what is never article text (per ``rules``)."""
    cleaned = copy.deepcopy(tree)
    body = cleaned.find("body")
    page_size = _visible_text_size(body) if body is not None else 0
    doomed = [element for element in cleaned.iter() if _is_non_content(element, rules, page_size)]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()
    return cleaned


def _is_non_content(element: lxml.html.HtmlElement, rules: ExtractionRules, page_size: int) -> bool:
    if not isinstance(element.tag, str) or element.tag in ("html", "head", "body"):
        return False
    if rules.remove_captions and element.tag == "figcaption":
        return True
    if rules.remove_hidden_ui and _is_hidden_ui(element):
        return True
    return (
        rules.remove_ui_containers
        and _is_named_ui_container(element)
        and _visible_text_size(element) <= _UI_CONTAINER_MAX_TEXT_SHARE * page_size
    )


def _visible_text_size(element: lxml.html.HtmlElement) -> int:
    """Characters of text in the element, not counting scripts and styles."""
    return sum(len(text.strip()) for text in _visible_texts(element))


def _visible_texts(element: lxml.html.HtmlElement) -> list[str]:
    return [str(text) for text in element.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]")]


def _is_hidden_ui(element: lxml.html.HtmlElement) -> bool:
    """Interaction or UI that is not on the reader's screen: dialogs, toasts, navigation regions,
    form controls, ``hidden``/``aria-hidden`` elements, hiding classes, ``display:none``."""
    if element.tag in NON_CONTENT_TAGS:
        return True
    roles = (element.get("role") or "").lower().split()
    if any(role in NON_CONTENT_ROLES for role in roles):
        return True
    if element.get("hidden") is not None or (element.get("aria-hidden") or "").lower() == "true":
        return True
    if any(name in HIDDEN_CLASSES for name in (element.get("class") or "").lower().split()):
        return True
    return bool(_HIDDEN_STYLE_RE.search(element.get("style") or ""))


def _is_named_ui_container(element: lxml.html.HtmlElement) -> bool:
    names = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    return any(part in NON_CONTENT_NAME_PARTS for part in _NAME_PART_SPLIT_RE.split(names))


# --------------------------------------------------------------------------------------------
# Main text


def _main_paragraphs(tree: lxml.html.HtmlElement, url: str | None, rules: ExtractionRules) -> list[str]:
    """Paragraphs of the main text as trafilatura finds it, minus page furniture it kept."""
    xml = trafilatura.extract(
        copy.deepcopy(tree),  # trafilatura prunes the tree it is given
        url=url,
        output_format="xml",
        include_comments=not rules.exclude_comments,
        include_links=True,  # to judge link-heavy paragraphs
        include_tables=True,
        include_images=False,
        with_metadata=False,
    )
    if not xml:
        return []
    root = lxml.etree.fromstring(xml.encode("utf-8"))
    paragraphs: list[str] = []
    for container in (root.find("main"), root.find("comments")):
        for block in _text_blocks(container):
            if rules.drop_furniture and _is_furniture(block):
                continue
            texts = _block_texts(block)
            paragraphs.extend(t for t in texts if not (rules.drop_ui_junk and is_ui_junk(t)))
    return _without_consecutive_repeats(paragraphs)


def _text_blocks(element: lxml.etree._Element | None) -> Iterator[lxml.etree._Element]:
    """The text blocks in document order; grouping elements (div, quote) are walked through."""
    if element is None:
        return
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag in _GROUP_BLOCKS and any(c.tag in _TEXT_BLOCKS | _GROUP_BLOCKS for c in child):
            yield from _text_blocks(child)
        else:
            yield child


def _block_texts(block: lxml.etree._Element) -> list[str]:
    """The paragraph texts of one block of trafilatura's XML (a list gives one per item)."""
    if block.tag == "list":
        return [text for item in block.iter("item") if (text := _norm_space(_text(item)))]
    if block.tag == "table":
        rows = (" | ".join(_norm_space(_text(cell)) for cell in row) for row in block.iter("row"))
        return [row for row in rows if row.strip(" |")]
    # <lb/> inside a block is a line break the page made; each line is its own paragraph.
    return [text for line in _text(block).split("\n") if (text := _norm_space(line))]


def _text(element: lxml.etree._Element) -> str:
    """Text of an element with <lb/> as a newline; source newlines are mere whitespace."""
    parts = [(element.text or "").replace("\n", " ")]
    for child in element:
        parts.append("\n" if child.tag == "lb" else _text(child))
        parts.append((child.tail or "").replace("\n", " "))
    return "".join(parts)


def _is_furniture(block: lxml.etree._Element) -> bool:
    """A block of page furniture that the extractor kept."""
    text = _norm_space("".join(block.itertext()))
    if not text:
        return True
    if block.tag == "head" and text.endswith(":"):
        return True  # it introduced a list of links that is gone
    links = list(block.iter("ref"))
    contact = sum(1 for link in links if CONTACT_LINK_RE.match(link.get("target") or ""))
    quoted = next(block.iterancestors("quote"), None) is not None or block.tag == "quote"
    if contact >= _CONTACT_LINKS_PER_PROMPT and not quoted:
        return True  # in a quote, such links belong to an embedded post, which is content
    if block.tag == "p" and len(text.split()) <= _LINK_PARAGRAPH_MAX_WORDS:
        linked = sum(len(_norm_space("".join(link.itertext()))) for link in links)
        return linked >= _LINK_PARAGRAPH_MIN_SHARE * len(text)
    return False


def _without_consecutive_repeats(paragraphs: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for paragraph in paragraphs:
        if not kept or kept[-1] != paragraph:
            kept.append(paragraph)
    return kept


def _without_headline_repeat(paragraphs: list[str], titles: list[str]) -> list[str]:
    """Without the short opening lines that repeat a declared title (kicker, title or both)."""
    title_words = [_words(title) for title in titles]
    head = paragraphs[:_HEADLINE_REPEAT_WINDOW]
    kept = [paragraph for paragraph in head if not _repeats_a_title(paragraph, title_words)]
    return kept + paragraphs[_HEADLINE_REPEAT_WINDOW:]


def _repeats_a_title(paragraph: str, title_words: list[set[str]]) -> bool:
    words = _words(paragraph)
    if not words or len(paragraph.split()) > _HEADLINE_PART_MAX_WORDS:
        return False
    return any(len(words & title) >= _HEADLINE_REPEAT_MIN_SHARE * len(words) for title in title_words)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _with_lead(paragraphs: list[str], tree: lxml.html.HtmlElement, descriptions: list[str]) -> list[str]:
    """Put back the lead paragraph when the page shows its declared description and the
    extraction lost it."""
    if not paragraphs:
        return paragraphs
    extracted = _norm_space(" ".join(paragraphs)).casefold()
    for description in descriptions:
        lead = _norm_space(description)
        if len(lead.split()) < _LEAD_MIN_WORDS or lead.casefold() in extracted:
            continue
        if _shown_as_element(tree, lead):
            return [lead, *paragraphs]
    return paragraphs


def _shown_as_element(tree: lxml.html.HtmlElement, text: str) -> bool:
    """Whether an element of the page body holds ``text`` (and little else)."""
    body = tree.find("body")
    if body is None:
        return False
    wanted = text.casefold()
    for element in body.iter(*_LEAD_TAGS):
        content = element.text_content()
        if len(content) < len(text) or len(content) > _LEAD_ELEMENT_SLACK * len(text) + 20:
            continue
        if wanted in _norm_space(content).casefold():
            return True
    return False


def _prefer_article_body(paragraphs: list[str], article_body: str | None) -> list[str]:
    """The JSON-LD articleBody, when it holds clearly more text than the extraction."""
    if not article_body:
        return paragraphs
    declared = [p for line in article_body.splitlines() if (p := _norm_space(line))]
    declared_size = sum(len(p) for p in declared)
    extracted_size = sum(len(p) for p in paragraphs)
    if extracted_size < _ARTICLE_BODY_MIN_SHARE * declared_size:
        return declared
    return paragraphs


# --------------------------------------------------------------------------------------------
# Small helpers


def _norm_space(text: str) -> str:
    return " ".join(text.split())


def _declared_text(value: str) -> str:
    """A declared string with entities resolved (pages often escape twice) and spaces normalised."""
    return _norm_space(html_lib.unescape(value))


def _first_text(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, dict):
            value = value.get("@id") or value.get("url")
        if isinstance(value, str) and (text := _declared_text(value)):
            return text
    return None


def _unique_texts(*values: Any) -> list[str]:
    texts = [_declared_text(v) for v in values if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(t for t in texts if t))
