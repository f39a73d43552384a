"""Read a news page that was scraped as plain text into one clean article.

Such pages (see ``tests/fixtures/seed/``) carry, around the article itself, the site name glued to
the headline (``Site - Headline``), the headline repeated, photo credit lines, UI junk
(``Textgröße ändern:``), a byline (``(V.Sørensen--DTZ)``, ``Von Max Muster``, ``By Jane Doe``) and a
block of teasers of other stories under a marker (``Empfohlen``, ``Read more``, ...).

The reading works from that structure: every line is classified (teaser marker, byline, junk,
credit, text) by pattern tables below, the headline is the first text line (minus a site name), the
body is the text between the headline and the closing byline or the first teaser marker, and the
teaser block is paired into headline + lead. Vocabulary lives in data tables, not in branches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "AGENCY_PATTERNS",
    "TEASER_MARKERS",
    "ScrapedPage",
    "ScrapedTeaser",
    "UnreadablePageError",
    "agency_from_credit",
    "is_ui_junk",
    "parse_scraped_page",
]


@dataclass(frozen=True)
class ScrapedTeaser:
    """A related story advertised on the page: its headline and lead paragraph (may be empty)."""

    headline: str
    lead: str


@dataclass(frozen=True)
class ScrapedPage:
    """The reading of one scraped page.

    ``boilerplate_removed`` lists the lines dropped as page furniture, deduplicated, grouped by kind
    in this order: UI junk, photo credit lines, teaser markers, then anything else dropped (extra
    bylines, stray paragraphs in the teaser block). Repeats of the headline are not listed.
    ``authors`` is ``by`` split into one name per author.
    """

    site: str | None
    headline: str
    body_paragraphs: tuple[str, ...]
    byline_raw: str | None
    by: str | None
    outlet_code: str | None
    image_credit: str | None
    agency: str | None
    teasers: tuple[ScrapedTeaser, ...]
    boilerplate_removed: tuple[str, ...]
    authors: tuple[str, ...] = ()


class UnreadablePageError(ValueError):
    """No headline or no article body could be found; the message says which and why."""


# --------------------------------------------------------------------------------------------
# Vocabulary (data, not branches)

EN_DASH = "\u2013"
EM_DASH = "\u2014"

# Lines that open a block of teasers for other stories, compared case-insensitively without a
# trailing colon. German and English, as seen on news sites.
TEASER_MARKERS: frozenset[str] = frozenset(
    {
        "empfohlen",
        "empfehlungen",
        "unsere empfehlungen",
        "mehr zum thema",
        "mehr zu diesem thema",
        "das könnte sie auch interessieren",
        "das könnte dich auch interessieren",
        "auch interessant",
        "lesen sie auch",
        "lesen sie mehr",
        "weitere artikel",
        "weitere nachrichten",
        "weitere meldungen",
        "weitere themen",
        "mehr aus dem ressort",
        "mehr nachrichten",
        "meistgelesen",
        "meistgelesene artikel",
        "top-themen",
        "top themen",
        "related",
        "related articles",
        "related stories",
        "related news",
        "read more",
        "read next",
        "more on this story",
        "more stories",
        "more news",
        "more from",
        "you may also like",
        "you might also like",
        "recommended",
        "recommended for you",
        "most read",
        "most popular",
        "top stories",
        "also read",
        "see also",
    }
)

# Credit string token -> agency, checked in the order the tokens appear in the credit.
# Two-letter codes are case-sensitive (``AP`` must not match "ap" in a name); names are not.
AGENCY_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(?i:\bAFP\b|\bAgence France[- ]Presse\b)", "AFP"),
    (r"(?i:\bdpa\b|\bDeutsche Presse-Agentur\b)", "dpa"),
    (r"(?i:\bReuters\b)", "Reuters"),
    (r"\bAP\b|(?i:\bAssociated Press\b)", "AP"),
    (r"(?i:\bEPA\b|\bEuropean Pressphoto Agency\b)", "EPA"),
    (r"(?i:\bEFE\b)", "EFE"),
    (r"(?i:\bGetty\b)", "Getty Images"),
    (r"(?i:\bKNA\b)", "KNA"),
    (r"(?i:\bepd\b)", "epd"),
    (r"(?i:\bAPA\b)", "APA"),
    (r"(?i:\bKeystone\b)", "Keystone"),
    (r"(?i:\bANSA\b)", "ANSA"),
    (r"(?i:\bANP\b)", "ANP"),
    (r"(?i:\bXinhua\b)", "Xinhua"),
    (r"(?i:\bAnadolu\b)", "Anadolu"),
    (r"\bPA\b(?: (?i:Images|Wire|Media))?", "PA Media"),
    (r"(?i:\bddp\b)", "ddp"),
    (r"(?i:\bBelga\b)", "Belga"),
    (r"(?i:\bTASS\b)", "TASS"),
    (r"(?i:\bKyodo\b)", "Kyodo"),
    (r"(?i:\bYonhap\b)", "Yonhap"),
)
_AGENCY_RES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), agency) for pattern, agency in AGENCY_PATTERNS
)

# UI junk, matched case-insensitively against a whole (short) line.
_JUNK_PATTERNS: tuple[str, ...] = (
    # single UI words: share / print / navigation / ads
    r"(?:teilen|drucken|merken|speichern|kommentieren|kommentare|share|print|save|tweet|e-?mail"
    r"|whatsapp|facebook|twitter|linkedin|pinterest|telegram|link kopieren|copy link|anzeige"
    r"|werbung|advertisement|sponsored|gesponsert|zurück|back|nach oben|back to top|top"
    r"|weiterlesen|mehr lesen|continue reading|show more|mehr anzeigen|schließen|close|menü|menu"
    r"|suche|search|startseite|home|login|anmelden|abonnieren|subscribe)[:.]?",
    # cookie and consent prompts
    r".*\b(?:wir verwenden|wir nutzen|we use|diese (?:web)?seite (?:verwendet|nutzt)"
    r"|this (?:web)?site uses)\b.*\bcookies?\b.*",
    r"(?:alle )?cookies? (?:akzeptieren|zulassen|ablehnen|erlauben)",
    r"(?:accept|reject|allow|decline) (?:all )?cookies?",
    r".*\bcookie[- ]?(?:einstellungen|settings|policy|richtlinie|hinweis|banner)\b.*",
    # newsletter prompts
    r".*\bnewsletter\b.*\b(?:abonnieren|bestellen|anmelden|eintragen)\b.*",
    r".*\b(?:abonnieren sie|melden sie sich|sign up|subscribe)\b.*\bnewsletter\b.*",
    r"newsletter",
    # rights lines and reading-time / date-only lines
    r".*\b(?:alle rechte vorbehalten|all rights reserved)\b.*",
    r"(?:©|\(c\)|copyright)\s*\d{4}\b.*",
    r"(?:lesezeit|reading time)\b.{0,20}",
    r"\d{1,3} ?min(?:uten?|\.)? (?:lesezeit|read)",
    # a duration alone: the length of a video or audio clip
    r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?: min\.?)?|\d{1,3} ?(?:min|minuten|minutes|sek|sec|s)\.?",
    r"(?:stand|aktualisiert(?: am)?|veröffentlicht(?: am)?|published|updated)?:?\s*"
    r"\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}(?:,? (?:um )?\d{1,2}[:.]\d{2}(?: uhr)?)?",
)
_JUNK_RES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE | re.DOTALL) for p in _JUNK_PATTERNS
)
# Junk prompts are short; a long line mentioning cookies is article text. (The character bound
# also keeps the patterns' backtracking cheap on huge one-word lines.)
_JUNK_MAX_WORDS = 25
_JUNK_MAX_CHARS = 300
# A line of a few words around a numeric date is a time stamp ("Stand: 04.04.2020", "Video
# verfügbar bis 28.02.2021"), not a sentence of an article or a headline.
_DATED_LINE_MAX_WORDS = 6
_NUMERIC_DATE_RE = re.compile(
    r"\b(?:\d{1,2}\.\s?\d{1,2}\.\s?(?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}"
    r"|\d{1,2}/\d{1,2}/(?:19|20)\d{2})\b"
)
# "Textgröße ändern:", "Teilen:", "Share this article:": a short label ending in a colon.
_UI_LABEL_MAX_WORDS = 5

# Photo credits: a label ("Foto:", "Photo:", "Bild:", ...) at the start of a line or after a
# separator / sentence end (so "Er zeigte das Foto: ..." in running text is not one), or a line
# opening with a copyright sign.
_CREDIT_LABELS = (
    r"Fotos?|Bild(?:er)?|Bildquelle|Fotoquelle|Photos?|Images?|Pictures?|Credits?|Photo credit"
    r"|Image credit|Picture credit"
)
_CREDIT_LABEL_RE = re.compile(
    rf"(?:^|(?<=[/|\u2013\u2014(\[])\s*|\s[-]\s|(?<=[.!?\"“”])\s)\(?\s*(?i:{_CREDIT_LABELS})\s*:\s*"
    r"(?P<credit>[^:]{1,100}?)\s*[)\]]?\.?$"
)
_COPYRIGHT_RE = re.compile(r"^(?:©|\(c\)|(?i:copyright))\s*(?P<credit>\S.{0,80})$")
_CREDIT_MAX_WORDS = 8
_CAPTION_MAX_WORDS = 60
_CAPTION_MAX_CHARS = 600

# Bylines. Wire style: "(V.Sørensen--DTZ)", "(A.Smith/B.Jones--XYZ)".
_WIRE_BYLINE_RE = re.compile(
    r"^\(\s*(?P<names>[^()]{1,150}?)\s*(?:-{2,}|—)\s*(?P<code>[A-Za-z0-9]{1,12})\s*\)$"
)
# Lead-word style: "Von Max Muster", "By Jane Doe and John Roe".
_LEAD_BYLINE_RE = re.compile(r"^(?:Von|VON|By|BY|Text:|Text von)\s+(?P<names>\S.{0,150})$")
_NAME_SPLIT_RE = re.compile(r"\s*(?:/|,|;|&|\bund\b|\band\b|\bsowie\b)\s*")
_NAME_PARTICLES = frozenset(
    {
        "von",
        "van",
        "der",
        "den",
        "de",
        "di",
        "da",
        "du",
        "del",
        "della",
        "la",
        "le",
        "zu",
        "ten",
        "ter",
        "dos",
        "das",
        "bin",
        "al",
        "el",
        "y",
        "e",
    }
)
_BYLINE_MAX_WORDS = 10
_INITIAL_GLUED_RE = re.compile(r"\b(\w)\.(?=\w)")

# A dateline naming the agency at the start of the body: "Berlin (dpa) - ...".
_DATELINE_RE = re.compile(r"^[^()]{0,60}\((?P<agency>[^()]{2,20})\)\s*[-\u2013\u2014:]")

# The site name and the headline are glued with one of these.
_SITE_SEPARATORS = (" - ", " | ", f" {EN_DASH} ", f" {EM_DASH} ", " :: ", " · ", " » ")
_SITE_MAX_WORDS = 4
_HEADLINE_MAX_WORDS = 50
_HEADLINE_MAX_CHARS = 500

# Teaser pairing: a lead is a sentence (ends in a full stop) or long; anything else is a headline.
_TEASER_HEADLINE_MAX_WORDS = 25
_TRAILING_CLOSERS = "\"'“”„»«\u2018\u2019)]"

_INVISIBLE_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u00ad\u200b-\u200d\u2060\ufeff]")


class _Kind(Enum):
    MARKER = "marker"
    BYLINE = "byline"
    JUNK = "junk"
    CREDIT = "credit"
    TEXT = "text"


@dataclass(frozen=True)
class _Line:
    text: str
    kind: _Kind
    credit: str | None = None  # for CREDIT lines: the credit itself ("POOL/AFP")
    caption: str | None = None  # for CREDIT lines: the text before the credit label


@dataclass(frozen=True)
class _Byline:
    raw: str
    authors: tuple[str, ...]
    outlet_code: str | None


# --------------------------------------------------------------------------------------------
# Public API


def parse_scraped_page(text: str) -> ScrapedPage:
    """Read a scraped text page into headline, body, byline, credit, teasers and what was dropped.

    Raises ``UnreadablePageError`` when no headline or no body can be found; any other ``str``
    parses. Non-``str`` input is a programming error (decode bytes with ``decode_text`` first).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_scraped_page expects str, got {type(text).__name__}")
    lines = [_classify(cleaned) for cleaned in _clean_lines(text)]
    if not lines:
        raise UnreadablePageError("no headline: the page has no text")

    headline_at = _first_text_index(lines)
    if headline_at is None:
        raise UnreadablePageError("no headline: every line of the page is page furniture")
    _check_headline_size(lines[headline_at].text, _HEADLINE_MAX_WORDS + _SITE_MAX_WORDS)
    site, headline, skip = _find_site_and_headline(lines, headline_at)
    _check_headline_size(headline, _HEADLINE_MAX_WORDS)
    return _read_after_headline(lines, headline_at, skip, site, headline)


def _check_headline_size(text: str, max_words: int) -> None:
    """A paragraph-sized first line means the page has no headline (and would be slow to split)."""
    words = _word_count(text)
    if words > max_words or len(text) > _HEADLINE_MAX_CHARS:
        raise UnreadablePageError(f"no headline: the first text line is a {words}-word paragraph")


def is_ui_junk(line: str) -> bool:
    """Whether a line is page UI: a short label ending in a colon (``Teilen:``), a share/print/ad
    word, a cookie or newsletter prompt, a rights or reading-time line."""
    return _is_junk(" ".join(line.split()))


def agency_from_credit(credit: str) -> str | None:
    """The news agency named in a credit string (``POOL/AFP`` -> ``AFP``), first one named wins."""
    found = [
        (match.start(), agency)
        for pattern, agency in _AGENCY_RES
        if (match := pattern.search(credit)) is not None
    ]
    return min(found)[1] if found else None


# --------------------------------------------------------------------------------------------
# Lines


def _clean_lines(text: str) -> list[str]:
    """Non-empty lines, NFC-normalised, invisible characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    cleaned = (" ".join(_INVISIBLE_RE.sub("", raw).split()) for raw in text.splitlines())
    return [line for line in cleaned if line]


def _classify(text: str) -> _Line:
    if _is_teaser_marker(text):
        return _Line(text, _Kind.MARKER)
    if _parse_byline(text) is not None:
        return _Line(text, _Kind.BYLINE)
    if _is_junk(text):
        return _Line(text, _Kind.JUNK)
    credit = _find_credit(text)
    if credit is not None:
        caption, credit_text = credit
        return _Line(text, _Kind.CREDIT, credit=credit_text, caption=caption)
    return _Line(text, _Kind.TEXT)


def _is_teaser_marker(text: str) -> bool:
    return text.rstrip(":").strip().casefold() in TEASER_MARKERS


def _is_junk(text: str) -> bool:
    words = _word_count(text)
    if text.endswith(":") and words <= _UI_LABEL_MAX_WORDS:
        return True
    if words <= _DATED_LINE_MAX_WORDS and _NUMERIC_DATE_RE.search(text):
        return True
    return (
        words <= _JUNK_MAX_WORDS
        and len(text) <= _JUNK_MAX_CHARS
        and any(pattern.fullmatch(text) for pattern in _JUNK_RES)
    )


def _find_credit(text: str) -> tuple[str, str] | None:
    """``(caption, credit)`` when the line is a photo credit or a caption ending in one."""
    if _word_count(text) > _CAPTION_MAX_WORDS or len(text) > _CAPTION_MAX_CHARS:
        return None
    match = _CREDIT_LABEL_RE.search(text) or _COPYRIGHT_RE.match(text)
    if match is None:
        return None
    credit = _clean_credit(match.group("credit"))
    if not credit or _word_count(credit) > _CREDIT_MAX_WORDS:
        return None
    caption = text[: match.start()].strip().rstrip(f"/|{EN_DASH}{EM_DASH}-(").strip()
    return caption, credit


def _clean_credit(credit: str) -> str:
    credit = re.sub(r"^(?:©|\(c\)|(?i:copyright))\s*", "", credit.strip())
    return credit.strip().rstrip(".)]").strip()


# --------------------------------------------------------------------------------------------
# Bylines


def _parse_byline(text: str) -> _Byline | None:
    if _word_count(text) > _BYLINE_MAX_WORDS:
        return None
    wire = _WIRE_BYLINE_RE.match(text)
    if wire is not None:
        authors = _split_names(wire.group("names"))
        if authors:
            return _Byline(text, authors, wire.group("code"))
        return None
    lead = _LEAD_BYLINE_RE.match(text)
    if lead is not None:
        authors = _split_names(lead.group("names"))
        if authors:
            return _Byline(text, authors, None)
    return None


def _split_names(names: str) -> tuple[str, ...]:
    """Author names, initials spaced (``V.Sørensen`` -> ``V. Sørensen``).

    The first part must look like a name; later parts that do not (a city, an outlet) are dropped.
    """
    parts = [part.strip() for part in _NAME_SPLIT_RE.split(names) if part.strip()]
    if not parts or not _looks_like_name(parts[0]):
        return ()
    return tuple(_INITIAL_GLUED_RE.sub(r"\1. ", part) for part in parts if _looks_like_name(part))


def _looks_like_name(part: str) -> bool:
    words = _INITIAL_GLUED_RE.sub(r"\1. ", part).split()
    if not 1 <= len(words) <= 5:
        return False
    capitalised = [w for w in words if w.casefold() not in _NAME_PARTICLES]
    return (
        bool(capitalised)
        and all(w[0].isupper() and all(c.isalpha() or c in ".-'\u2019" for c in w) for w in capitalised)
        and (len(words) >= 2 or "." in part)
    )


# --------------------------------------------------------------------------------------------
# Headline and site


def _first_text_index(lines: Sequence[_Line]) -> int | None:
    return next((i for i, line in enumerate(lines) if line.kind is _Kind.TEXT), None)


def _find_site_and_headline(lines: Sequence[_Line], at: int) -> tuple[str | None, str, int]:
    """``(site, headline, lines used)`` from the first text line(s) of the page.

    A headline repeated further down (alone or as a photo caption) tells which side of a
    ``Site - Headline`` line is the headline; without a repeat, a short name at either end is
    taken as the site.
    """
    first = lines[at].text
    repeats = _headline_candidates(lines[at + 1 :])
    for position, separator in _separator_positions(first):
        left, right = first[:position].strip(), first[position + len(separator) :].strip()
        if _norm(right) in repeats and left:
            return left, right, 1
        if _norm(left) in repeats and right:
            return right, left, 1
    # The site on a line of its own, followed by the (repeated) headline.
    following = _next_text(lines, at)
    if (
        following is not None
        and _norm(first) not in repeats
        and _word_count(first) <= _SITE_MAX_WORDS
        and _count_norm(lines[following + 1 :], lines[following].text) >= 1
    ):
        return first, lines[following].text, following - at + 1
    positions = _separator_positions(first)
    if positions:
        position, separator = positions[0]
        left, right = first[:position].strip(), first[position + len(separator) :].strip()
        if _looks_like_site(left, right):
            return left, right, 1
        position, separator = positions[-1]
        left, right = first[:position].strip(), first[position + len(separator) :].strip()
        if _looks_like_site(right, left):
            return right, left, 1
    return None, first, 1


def _separator_positions(text: str) -> list[tuple[int, str]]:
    found = [
        (match.start(), separator)
        for separator in _SITE_SEPARATORS
        for match in re.finditer(re.escape(separator), text)
    ]
    return sorted(found)


def _looks_like_site(site: str, headline: str) -> bool:
    return (
        bool(site)
        and _word_count(site) <= _SITE_MAX_WORDS
        and _word_count(headline) >= _SITE_MAX_WORDS
        and not site.endswith((":", "?", "!", "."))
        and (site[0].isupper() or site[0].isdigit())
    )


def _headline_candidates(lines: Iterable[_Line]) -> set[str]:
    """Normalised texts a repeated headline could show up as: text lines and photo captions."""
    found: set[str] = set()
    for line in lines:
        if line.kind is _Kind.TEXT:
            found.add(_norm(line.text))
        elif line.kind is _Kind.CREDIT and line.caption:
            found.add(_norm(line.caption))
    return found


def _next_text(lines: Sequence[_Line], at: int) -> int | None:
    return next((i for i in range(at + 1, len(lines)) if lines[i].kind is _Kind.TEXT), None)


def _count_norm(lines: Iterable[_Line], text: str) -> int:
    target = _norm(text)
    return sum(
        1
        for line in lines
        if _norm(line.text) == target or (line.caption is not None and _norm(line.caption) == target)
    )


# --------------------------------------------------------------------------------------------
# Body, byline, credits, teasers


@dataclass
class _Reading:
    body: list[str]
    teaser_lines: list[str]
    junk: list[str]
    credits: list[str]
    markers: list[str]
    other: list[str]
    byline: _Byline | None = None
    image_credit: str | None = None


def _read_after_headline(
    lines: Sequence[_Line], headline_at: int, skip: int, site: str | None, headline: str
) -> ScrapedPage:
    reading = _Reading([], [], [], [], [], [])
    repeats = {_norm(headline), _norm(lines[headline_at].text)}
    if site is not None:
        repeats.add(_norm(site))
    in_teasers = False
    for index, line in enumerate(lines):
        if headline_at <= index < headline_at + skip:
            continue
        if line.kind is _Kind.TEXT and _norm(line.text) in repeats:
            continue  # the headline (or site) repeated: layout, not content
        in_teasers = _take_line(reading, line, in_teasers, before_headline=index < headline_at)
    if not reading.body:
        raise UnreadablePageError(
            f"no body: no article text between the headline {headline[:60]!r} and the end "
            "of the article (byline, teaser block or end of page)"
        )
    teasers, stray = _pair_teasers(reading.teaser_lines)
    reading.other.extend(stray)
    byline = reading.byline
    return ScrapedPage(
        site=site,
        headline=headline,
        body_paragraphs=tuple(reading.body),
        byline_raw=byline.raw if byline else None,
        by=", ".join(byline.authors) if byline else None,
        outlet_code=byline.outlet_code if byline else None,
        image_credit=reading.image_credit,
        agency=_find_agency(reading.image_credit, reading.body[0]),
        teasers=teasers,
        boilerplate_removed=tuple(
            _unique([*reading.junk, *reading.credits, *reading.markers, *reading.other])
        ),
        authors=byline.authors if byline else (),
    )


def _take_line(reading: _Reading, line: _Line, in_teasers: bool, before_headline: bool) -> bool:
    """File one line into the reading; returns whether the teaser block has started."""
    if line.kind is _Kind.MARKER:
        reading.markers.append(line.text)
        return True
    if line.kind is _Kind.JUNK:
        reading.junk.append(line.text)
    elif line.kind is _Kind.CREDIT:
        reading.credits.append(line.text)
        if reading.image_credit is None and not in_teasers:
            reading.image_credit = line.credit
    elif line.kind is _Kind.BYLINE:
        if reading.byline is None and not in_teasers:
            reading.byline = _parse_byline(line.text)
            # A byline after the text closes the article; what follows is not its body.
            return bool(reading.body)
        reading.other.append(line.text)
    elif in_teasers:
        reading.teaser_lines.append(line.text)
    elif before_headline:
        reading.other.append(line.text)
    else:
        reading.body.append(line.text)
    return in_teasers


def _pair_teasers(lines: Sequence[str]) -> tuple[tuple[ScrapedTeaser, ...], list[str]]:
    """Teasers (headline + lead) from the teaser block, and the lines that fit no teaser."""
    teasers: list[ScrapedTeaser] = []
    stray: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else None
        if _is_lead(line):
            stray.append(line)  # a lead without its headline
            index += 1
        elif following is not None and _is_lead(following):
            teasers.append(ScrapedTeaser(headline=line, lead=following))
            index += 2
        else:
            teasers.append(ScrapedTeaser(headline=line, lead=""))
            index += 1
    return tuple(teasers), stray


def _is_lead(text: str) -> bool:
    """A lead reads as prose: it ends in a full stop, or it is longer than any headline."""
    return text.rstrip(_TRAILING_CLOSERS).endswith(".") or (_word_count(text) > _TEASER_HEADLINE_MAX_WORDS)


def _find_agency(image_credit: str | None, first_paragraph: str) -> str | None:
    """The agency from the photo credit, else from a dateline such as ``Berlin (dpa) -``."""
    if image_credit is not None:
        agency = agency_from_credit(image_credit)
        if agency is not None:
            return agency
    dateline = _DATELINE_RE.match(first_paragraph)
    return agency_from_credit(dateline.group("agency")) if dateline else None


# --------------------------------------------------------------------------------------------
# Small helpers


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _word_count(text: str) -> int:
    return len(text.split())


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
