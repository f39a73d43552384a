"""Turn the bytes of a page into text: the charset is the reader's job.

Order of evidence: a byte-order mark, then the charset the sender declared (HTTP header, or the
page's own ``<meta charset>``) if the bytes decode cleanly with it, then strict UTF-8, then
charset-normalizer's detection. "Cleanly" means a strict decode that yields no NUL characters
(text has none; UTF-16 without a BOM "decodes" as UTF-8 full of them).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = [
    "UndecodableTextError",
    "charset_from_content_type",
    "declared_html_charset",
    "decode_html",
    "decode_text",
]


class UndecodableTextError(ValueError):
    """The bytes are not text in any charset we could establish."""


# Longest marks first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Browsers read these labels as windows-1252 (WHATWG Encoding Standard), and so do publishers'
# pages in practice: "ISO-8859-1" pages routinely carry 0x80-0x9F punctuation such as curly quotes.
_READ_AS_WINDOWS_1252 = frozenset({"iso8859_1", "ascii", "cp1252"})

# The charset a page declares is looked for in its head, which sits near the start.
_HTML_PRESCAN_BYTES = 16_384
_META_CHARSET_RE = re.compile(rb"""<meta[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING_RE = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_CONTENT_TYPE_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode ``data``: BOM, else ``declared`` if it fits, else UTF-8, else detection.

    A legacy ``declared`` charset (ISO-8859-1 decodes any bytes at all) loses to UTF-8 when the
    bytes are valid UTF-8 with multi-byte sequences: that is the common mislabel, and legacy text
    is practically never valid multi-byte UTF-8 by accident.
    Raises ``UndecodableTextError`` when nothing yields text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _clean_decode(data, encoding)
            if text is not None:
                return text.removeprefix("\ufeff")
            break
    utf8 = _clean_decode(data, "utf-8")
    codec = _codec_name(declared)
    if codec is not None:
        if not codec.startswith("utf") and utf8 is not None and not utf8.isascii():
            return utf8
        for candidate in _candidates(codec):
            text = _clean_decode(data, candidate)
            if text is not None:
                return text
    if utf8 is not None:
        return utf8
    return _detect(data, declared)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode an HTML page: the HTTP-declared charset, else the page's own declaration."""
    return decode_text(data, declared or declared_html_charset(data))


def declared_html_charset(data: bytes) -> str | None:
    """The charset an HTML/XML page declares in ``<meta charset>``, ``http-equiv`` or ``<?xml``."""
    head = data[:_HTML_PRESCAN_BYTES]
    match = _XML_ENCODING_RE.match(head) or _META_CHARSET_RE.search(head)
    return match.group(1).decode("ascii") if match else None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    match = _CONTENT_TYPE_CHARSET_RE.search(content_type)
    return match.group(1) if match else None


def _codec_name(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None for an unknown label."""
    if not label:
        return None
    try:
        return codecs.lookup(label.strip()).name.replace("-", "_")
    except LookupError:
        return None


def _candidates(codec: str) -> tuple[str, ...]:
    # windows-1252 leaves five bytes undefined; true Latin-1 then still decodes.
    return ("cp1252", "latin_1") if codec in _READ_AS_WINDOWS_1252 else (codec,)


def _clean_decode(data: bytes, encoding: str) -> str | None:
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return None if "\x00" in text else text


def _detect(data: bytes, declared: str | None) -> str:
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        said = f"declared {declared!r} does not fit, " if declared else ""
        raise UndecodableTextError(
            f"cannot decode {len(data)} bytes as text: no byte-order mark, {said}not UTF-8, "
            "and charset detection found no plausible encoding (binary data?)"
        )
    return str(best)
