"""Text out of small pieces of markup (a ninjs HTML body, a feed entry's content): paragraphs."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt"})
_SPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def text_paragraphs(text: str) -> tuple[str, ...]:
    """Plain text: blank lines separate paragraphs; single line breaks inside one are spaces."""
    return tuple(part for part in (_clean(chunk) for chunk in re.split(r"\n\s*\n", text)) if part)


def html_paragraphs(markup: str) -> tuple[str, ...]:
    """Block elements' text, each once (outermost block wins); unstructured markup by blank lines."""
    if "<" not in markup:
        return text_paragraphs(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return text_paragraphs(markup)
    paragraphs: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag.lower() not in _BLOCKS:
            continue
        if any(isinstance(a.tag, str) and a.tag.lower() in _BLOCKS for a in element.iterancestors()):
            continue
        text = _clean(element.text_content())
        if text:
            paragraphs.append(text)
    if paragraphs:
        return tuple(paragraphs)
    for line_break in root.iter("br"):  # <br><br> is how unstructured markup separates paragraphs
        line_break.tail = "\n" + (line_break.tail or "")
    return text_paragraphs(root.text_content())


def html_text(markup: str) -> str:
    """Markup as one line of text (a headline given as HTML)."""
    if "<" not in markup:
        return _clean(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return _clean(markup)
    return _clean(root.text_content())
