"""Reading scraped text pages: the seed exactly, generated variants of its format, robustness."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.scraped import (
    ScrapedPage,
    ScrapedTeaser,
    UnreadablePageError,
    agency_from_credit,
    parse_scraped_page,
)

pytestmark = pytest.mark.unit

SEED_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "seed"
SEED_TEXT = (SEED_DIR / "000_f9cc83e86fb4ea15.txt").read_text(encoding="utf-8")
SEED_EXPECTED = json.loads((SEED_DIR / "000_f9cc83e86fb4ea15.expected.json").read_text(encoding="utf-8"))
SEED_TEASERS = tuple(ScrapedTeaser(headline=t["headline"], lead=t["lead"]) for t in SEED_EXPECTED["teasers"])

ENGLISH_PARAGRAPHS = (
    "The city council voted on Tuesday to close the old harbour bridge to cars from next spring, "
    "ending months of debate about the crumbling structure.",
    "Engineers had warned in a report last year that the bridge could no longer carry heavy "
    "traffic safely. Repairs would have cost more than a new crossing, the council said.",
    "Cyclists and pedestrians will still be allowed to use the bridge until a replacement opens, "
    "which officials expect to happen in about four years.",
)
ENGLISH_TEASERS = (
    ScrapedTeaser(
        headline="Port workers strike over new shift rules",
        lead="Hundreds of dock workers walked out on Monday in a dispute over working hours.",
    ),
    ScrapedTeaser(
        headline="Museum reopens after two-year renovation",
        lead="The city museum opened its doors again on Saturday with a new wing for local art.",
    ),
)


# ---------------------------------------------------------------------------------------------
# The seed


def test_seed_gives_exactly_the_expected_reading() -> None:
    """The seed page reads exactly as the hand-made reading says, field by field."""
    page = parse_scraped_page(SEED_TEXT)
    assert page.site == SEED_EXPECTED["site"]
    assert page.headline == SEED_EXPECTED["headline"]
    assert page.byline_raw == SEED_EXPECTED["byline_raw"]
    assert page.by == SEED_EXPECTED["by"]
    assert page.outlet_code == SEED_EXPECTED["outlet_code"]
    assert page.image_credit == SEED_EXPECTED["image_credit"]
    assert page.agency == SEED_EXPECTED["agency"]
    assert page.body_paragraphs == tuple(SEED_EXPECTED["body_paragraphs"])
    assert page.boilerplate_removed == tuple(SEED_EXPECTED["boilerplate_removed"])
    assert page.teasers == SEED_TEASERS
    assert page.authors == ("V. Sørensen",)


def test_seed_with_windows_line_endings_and_bom_reads_the_same() -> None:
    """CRLF line endings, a BOM and non-breaking spaces do not change the reading."""
    variant = "\ufeff" + SEED_TEXT.replace("\n", "\r\n").replace(
        "Textgröße ändern:", "Textgröße\u00a0ändern:"
    )
    assert parse_scraped_page(variant) == parse_scraped_page(SEED_TEXT)


# ---------------------------------------------------------------------------------------------
# Generated variants of the seed format


@dataclass(frozen=True)
class Variant:
    text: str
    expected: ScrapedPage


SITES = ("Deutsche Tageszeitung", "Berliner Abendblatt", "Westfalen Kurier", "The Daily Ledger")
SEPARATORS = (" - ", " | ", " \u2013 ")
HEADLINES = (SEED_EXPECTED["headline"], *(t.headline for t in SEED_TEASERS))
# Credit line templates: each gets the headline and the credit.
CREDIT_FORMATS = (
    "{headline} / Foto: © {credit}",
    "Photo: {credit}",
    "© {credit}",
    "Bild: {credit}",
    "Der Präsident bei der Ankunft in der Hauptstadt. Foto: {credit}",
)
CREDITS = (
    ("POOL/AFP", "AFP"),
    ("picture alliance/dpa", "dpa"),
    ("REUTERS/Fabrizio Bensch", "Reuters"),
    ("AP Photo/Evan Vucci", "AP"),
    ("EPA-EFE/Clemens Bilan", "EPA"),
    ("Getty Images", "Getty Images"),
)
JUNK_LINES = (
    "Textgröße ändern:",
    "Teilen:",
    "Share this article:",
    "Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis zu bieten.",
    "Newsletter abonnieren",
    "Anzeige",
    "Drucken",
    "Accept all cookies",
)
# (line, by, outlet code, at the end of the article?)
BYLINES = (
    ("(V.Sørensen--DTZ)", "V. Sørensen", "DTZ", True),
    ("(A.Smith/B.Jones--XYZ)", "A. Smith, B. Jones", "XYZ", True),
    ("Von Max Muster", "Max Muster", None, False),
    ("By Jane Doe", "Jane Doe", None, False),
    ("Von Erika Musterfrau und Hans Beispiel", "Erika Musterfrau, Hans Beispiel", None, False),
)
MARKERS = (
    "Empfohlen",
    "Mehr zum Thema",
    "Das könnte Sie auch interessieren",
    "Related",
    "Read more",
    "More on this story",
    "Lesen Sie auch:",
)


def make_variant(seed: int) -> Variant:
    """A page in the seed's format with every part drawn at random, and its expected reading."""
    rng = random.Random(seed)
    site = rng.choice((*SITES, None))
    headline = rng.choice(HEADLINES)
    credit, agency = rng.choice(CREDITS)
    credit_template = rng.choice((*CREDIT_FORMATS, None))
    paragraphs = rng.sample(SEED_EXPECTED["body_paragraphs"], rng.randint(1, 6))
    byline = rng.choice((*BYLINES, None))
    marker = rng.choice(MARKERS)
    teasers = [t for t in SEED_TEASERS if t.headline != headline]
    teasers = rng.sample(teasers, rng.randint(0, len(teasers)))

    lines: list[str] = []
    junk: list[str] = []
    credits: list[str] = []
    if site is None:
        lines.append(headline)
    elif rng.random() < 0.8:
        lines.append(f"{site}{rng.choice(SEPARATORS)}{headline}")
    else:
        lines.append(f"{headline} | {site}")
    lines.extend([headline] * rng.randint(0, 2))
    if byline is not None and not byline[3]:
        lines.append(byline[0])
    if credit_template is not None:
        credit_line = credit_template.format(headline=headline, credit=credit)
        lines.append(credit_line)
        credits.append(credit_line)
    for paragraph in paragraphs:
        lines.append(paragraph)
        if rng.random() < 0.3:
            junk_line = rng.choice(JUNK_LINES)
            lines.append(junk_line)
            junk.append(junk_line)
    if byline is not None and byline[3]:
        lines.append(byline[0])
    markers: list[str] = []
    if teasers:
        lines.append(marker)
        markers.append(marker)
        for teaser in teasers:
            lines.extend((teaser.headline, teaser.lead))
    if rng.random() < 0.5:
        lines.append("Textgröße ändern:")
        junk.append("Textgröße ändern:")
    expected = ScrapedPage(
        site=site,
        headline=headline,
        body_paragraphs=tuple(paragraphs),
        byline_raw=byline[0] if byline else None,
        by=byline[1] if byline else None,
        outlet_code=byline[2] if byline else None,
        image_credit=credit if credit_template else None,
        agency=agency if credit_template else None,
        teasers=tuple(teasers),
        boilerplate_removed=tuple(dict.fromkeys([*junk, *credits, *markers])),
        authors=tuple(byline[1].split(", ")) if byline else (),
    )
    blank = "\n\n" if rng.random() < 0.7 else "\n"
    return Variant(text=blank.join(lines), expected=expected)


@pytest.mark.parametrize("seed", range(300))
def test_generated_variant_of_the_seed_format_reads_right(seed: int) -> None:
    """Pages in the seed's format with other sites, bylines, junk, credits, markers and teaser
    counts read into exactly the parts they were built from."""
    variant = make_variant(seed)
    assert parse_scraped_page(variant.text) == variant.expected, variant.text


# ---------------------------------------------------------------------------------------------
# Other page shapes


def test_page_without_teaser_block_has_no_teasers() -> None:
    """A page that ends with its byline has its whole text as body and no teasers."""
    text = "\n\n".join(
        [
            "Rheinpfalz Online - Brücke wird gesperrt",
            "Brücke wird gesperrt",
            *SEED_EXPECTED["body_paragraphs"][:3],
            "(K.Weber--RPO)",
        ]
    )
    page = parse_scraped_page(text)
    assert page.site == "Rheinpfalz Online"
    assert page.headline == "Brücke wird gesperrt"
    assert page.body_paragraphs == tuple(SEED_EXPECTED["body_paragraphs"][:3])
    assert page.teasers == ()
    assert (page.by, page.outlet_code) == ("K. Weber", "RPO")


def test_english_page_with_english_markers() -> None:
    """An English page: suffix site name, top byline, Reuters credit, junk, 'Read more' teasers."""
    text = "\n\n".join(
        [
            "Council votes to close harbour bridge to cars | The Harbour Herald",
            "Council votes to close harbour bridge to cars",
            "By Jane Doe",
            "Photo: Reuters",
            ENGLISH_PARAGRAPHS[0],
            "Share this article:",
            *ENGLISH_PARAGRAPHS[1:],
            "Sign up for our daily newsletter",
            "Read more",
            *(part for t in ENGLISH_TEASERS for part in (t.headline, t.lead)),
        ]
    )
    page = parse_scraped_page(text)
    assert page.site == "The Harbour Herald"
    assert page.headline == "Council votes to close harbour bridge to cars"
    assert page.body_paragraphs == ENGLISH_PARAGRAPHS
    assert (page.by, page.outlet_code, page.byline_raw) == ("Jane Doe", None, "By Jane Doe")
    assert (page.image_credit, page.agency) == ("Reuters", "Reuters")
    assert page.teasers == ENGLISH_TEASERS
    assert page.boilerplate_removed == (
        "Share this article:",
        "Sign up for our daily newsletter",
        "Photo: Reuters",
        "Read more",
    )


def test_teaser_headline_without_lead_gets_an_empty_lead() -> None:
    """Two headlines in a row in the teaser block are two teasers, the first without a lead."""
    text = "\n".join(
        [
            "Brücke wird gesperrt",
            ENGLISH_PARAGRAPHS[0],
            "Mehr zum Thema",
            "Hafen wird ausgebaut",
            "Neue Fähre fährt ab Mai",
            "Die Fähre verbindet beide Ufer.",
        ]
    )
    page = parse_scraped_page(text)
    assert page.teasers == (
        ScrapedTeaser("Hafen wird ausgebaut", ""),
        ScrapedTeaser("Neue Fähre fährt ab Mai", "Die Fähre verbindet beide Ufer."),
    )


def test_dateline_names_the_agency_when_no_credit_does() -> None:
    """Without a photo credit, the agency comes from a dateline such as 'Berlin (dpa) -'."""
    text = "Brücke wird gesperrt\n\nBerlin (dpa) - Die Brücke wird ab Montag gesperrt."
    assert parse_scraped_page(text).agency == "dpa"


def test_body_line_mentioning_a_photo_is_kept() -> None:
    """A sentence that merely says 'Foto:' in running text is body, not a credit."""
    sentence = "Er zeigte das Foto: Es war dunkel."
    page = parse_scraped_page(f"Brücke wird gesperrt\n\n{sentence}")
    assert page.body_paragraphs == (sentence,)
    assert page.image_credit is None


@pytest.mark.parametrize(
    ("credit", "agency"),
    [
        ("POOL/AFP", "AFP"),
        ("AFP via Getty Images", "AFP"),
        ("picture alliance / dpa-Zentralbild", "dpa"),
        ("Mapado/Shutterstock", None),
        ("Apa Grafik", "APA"),
        ("Papageno", None),
    ],
)
def test_agency_from_credit(credit: str, agency: str | None) -> None:
    """The agency is the first agency named in the credit, matched as a whole word."""
    assert agency_from_credit(credit) == agency


# ---------------------------------------------------------------------------------------------
# Unreadable pages and robustness


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no headline"),
        ("\n \n\t\n", "no headline"),
        ("Textgröße ändern:\n\nTeilen:", "no headline"),
        ("Brücke wird gesperrt\n\nBrücke wird gesperrt", "no body"),
        ("Brücke wird gesperrt\n\nEmpfohlen\n\nHafen wird ausgebaut", "no body"),
        (" ".join(["Wort"] * 80), "no headline"),
    ],
)
def test_unreadable_pages_raise_with_a_reason(text: str, reason: str) -> None:
    """A page without headline or body raises UnreadablePageError saying which is missing."""
    with pytest.raises(UnreadablePageError, match=reason):
        parse_scraped_page(text)


def test_bytes_are_a_type_error() -> None:
    """Bytes must be decoded first; passing them is a programming error, not a bad page."""
    with pytest.raises(TypeError):
        parse_scraped_page(SEED_TEXT.encode())  # type: ignore[arg-type]  # the wrong type is the point


SEED_LINES = [line for line in SEED_TEXT.splitlines() if line]
page_texts = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.sampled_from(SEED_LINES + list(JUNK_LINES) + list(MARKERS)), st.text(max_size=40)),
        max_size=30,
    ).map("\n".join),
)


@settings(max_examples=300, deadline=None)
@given(page_texts)
def test_any_text_parses_or_raises_unreadable(text: str) -> None:
    """Any str either parses into a page with a headline and a body, or raises
    UnreadablePageError; never another exception."""
    try:
        page = parse_scraped_page(text)
    except UnreadablePageError:
        return
    assert page.headline.strip()
    assert page.body_paragraphs
    assert all(p.strip() for p in page.body_paragraphs)
