"""Decoding page bytes: BOM, declared charset, UTF-8, detection, and the undecodable case."""

from __future__ import annotations

import codecs
import zlib

import pytest

from services.intake.charset import (
    UndecodableTextError,
    charset_from_content_type,
    declared_html_charset,
    decode_html,
    decode_text,
)

pytestmark = pytest.mark.unit

GERMAN = (
    "Die Straßenbahn fährt künftig öfter: Ab Montag gilt in Köln ein neuer Fahrplan. "
    "Fahrgäste müssen sich auf geänderte Abfahrtszeiten einstellen, teilte der Verkehrsverbund mit. "
    "Größere Änderungen gibt es vor allem im Süden der Stadt, wo zwei Linien zusammengelegt werden."
)
RUSSIAN = (
    "Городской совет во вторник проголосовал за закрытие старого моста для автомобилей. "
    "Инженеры предупреждали, что мост больше не выдерживает тяжёлый транспорт."
)


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_byte_order_mark_decides_and_is_dropped(bom: bytes, encoding: str) -> None:
    """A BOM picks the encoding even against a contrary declaration, and is not in the text."""
    assert decode_text(bom + GERMAN.encode(encoding), declared="iso-8859-1") == GERMAN


def test_declared_charset_is_used_when_it_decodes_cleanly() -> None:
    """Bytes in a declared legacy charset decode with that charset (here windows-1251)."""
    assert decode_text(RUSSIAN.encode("cp1251"), declared="windows-1251") == RUSSIAN


def test_declared_latin1_is_read_as_windows_1252() -> None:
    """'ISO-8859-1' pages are read as windows-1252, so curly quotes (0x93/0x94) come out right."""
    text = "Er sagte: \u201eWir fahren öfter.\u201c Und: \u201cgut\u201d"
    assert decode_text(text.encode("cp1252"), declared="ISO-8859-1") == text


def test_declared_latin1_with_bytes_undefined_in_1252_falls_back_to_latin1() -> None:
    """A byte undefined in windows-1252 (0x81) still decodes as true ISO-8859-1."""
    data = "Köln".encode("latin-1") + b"\x81"
    assert decode_text(data, declared="latin-1") == "Köln\x81"


def test_utf8_beats_a_legacy_declaration_it_contradicts() -> None:
    """UTF-8 bytes mislabelled as ISO-8859-1 decode as UTF-8, not as mojibake."""
    assert decode_text(GERMAN.encode("utf-8"), declared="iso-8859-1") == GERMAN


def test_declared_charset_that_does_not_fit_is_ignored() -> None:
    """A declared UTF-8 that the bytes are not in gives way to detection."""
    assert decode_text(GERMAN.encode("cp1252"), declared="utf-8") == GERMAN


def test_unknown_declared_label_is_ignored() -> None:
    """A charset label Python does not know is ignored rather than raising."""
    assert decode_text(GERMAN.encode("utf-8"), declared="x-no-such-charset") == GERMAN


def test_undeclared_utf8_decodes_as_utf8() -> None:
    """Without BOM or declaration, valid UTF-8 is UTF-8."""
    assert decode_text(GERMAN.encode("utf-8")) == GERMAN


def test_empty_bytes_are_empty_text() -> None:
    """No bytes is no text, not an error."""
    assert decode_text(b"") == ""


def test_undeclared_legacy_bytes_are_detected() -> None:
    """Undeclared non-UTF-8 bytes are decoded by detection (windows-1251 Russian)."""
    assert decode_text(RUSSIAN.encode("cp1251")) == RUSSIAN


def test_utf16_without_bom_is_not_taken_for_utf8() -> None:
    """UTF-16 without a BOM is valid UTF-8 full of NULs; it goes to detection instead."""
    assert decode_text(GERMAN.encode("utf-16-le")) == GERMAN


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, zlib.compress(GERMAN.encode() * 20)],
)
def test_binary_data_raises_undecodable(data: bytes) -> None:
    """Binary data raises UndecodableTextError with a message saying what was tried."""
    with pytest.raises(UndecodableTextError, match="cannot decode"):
        decode_text(data)


@pytest.mark.parametrize(
    ("head", "charset"),
    [
        (b'<html><head><meta charset="ISO-8859-1"><title>x</title>', "ISO-8859-1"),
        (b"<html><head><meta charset=utf-8>", "utf-8"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
            "windows-1251",
        ),
        (b'<?xml version="1.0" encoding="iso-8859-15"?><html>', "iso-8859-15"),
        (b"<html><head><title>no declaration</title>", None),
    ],
)
def test_declared_html_charset(head: bytes, charset: str | None) -> None:
    """The page's own declaration is found in meta charset, http-equiv or the XML declaration."""
    assert declared_html_charset(head) == charset


def test_decode_html_uses_the_page_declaration_when_the_header_says_nothing() -> None:
    """A page declaring windows-1251 in a meta tag decodes with it."""
    page = f'<html><head><meta charset="windows-1251"></head><body>{RUSSIAN}</body></html>'
    assert decode_html(page.encode("cp1251")) == page


@pytest.mark.parametrize(
    ("header", "charset"),
    [
        ("text/html; charset=ISO-8859-1", "ISO-8859-1"),
        ('text/html; charset="utf-8"', "utf-8"),
        ("text/html", None),
        (None, None),
    ],
)
def test_charset_from_content_type(header: str | None, charset: str | None) -> None:
    """The charset parameter of a Content-Type header is read, quoted or not."""
    assert charset_from_content_type(header) == charset
