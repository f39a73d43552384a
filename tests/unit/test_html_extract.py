"""Reading the article out of a whole HTML page: main text, declared metadata, charset, failures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.html import (
    DEFAULT_RULES,
    ExtractedPage,
    UnreadablePageError,
    extract_html,
)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "html"
NEWS_PAGE = (FIXTURES / "news_page.html").read_bytes()
FURNITURE_PAGE = (FIXTURES / "furniture_page.html").read_bytes()
LATIN1_PAGE = (FIXTURES / "latin1_page.html").read_bytes()

NEWS_LEAD = (
    "Die marode Hafenbrücke wird ab dem Frühjahr für den Autoverkehr gesperrt. "
    "Radfahrer und Fußgänger dürfen sie weiter nutzen."
)
NEWS_BODY = (
    NEWS_LEAD,
    "Der Stadtrat hat am Dienstagabend mit großer Mehrheit beschlossen, die alte Hafenbrücke ab "
    "dem kommenden Frühjahr für Autos und Lastwagen zu sperren. Damit endet eine monatelange "
    "Debatte über die Zukunft des fast hundert Jahre alten Bauwerks.",
    "Ingenieure hatten im vergangenen Jahr in einem Gutachten gewarnt, dass die Brücke schweren "
    "Verkehr nicht mehr sicher tragen könne. Eine Sanierung wäre nach Angaben der Verwaltung "
    "teurer gewesen als ein Neubau an gleicher Stelle.",
    "Neubau frühestens in vier Jahren",
    "Bis eine neue Brücke fertig ist, sollen Radfahrer und Fußgänger die alte weiter nutzen "
    "dürfen. Die Verwaltung rechnet mit einer Bauzeit von mindestens vier Jahren, der Baubeginn "
    "hängt von Fördermitteln des Landes ab.",
    "Händler in der Altstadt sehen die Sperrung mit Sorge. Sie befürchten, dass weniger "
    "Kundschaft aus den Vororten auf der anderen Flussseite kommt, und fordern zusätzliche "
    "Busverbindungen während der Bauzeit.",
)
FURNITURE_LEAD = (
    "The old harbour bridge will close to cars next spring, the city council decided on "
    "Tuesday after months of debate."
)


@pytest.fixture(scope="module")
def news() -> ExtractedPage:
    return extract_html(NEWS_PAGE)


@pytest.fixture(scope="module")
def furniture() -> ExtractedPage:
    return extract_html(FURNITURE_PAGE)


# ---------------------------------------------------------------------------------------------
# A news page with navigation, cookie banner, comments, JSON-LD and og tags


def test_news_page_body_is_exactly_the_article(news: ExtractedPage) -> None:
    """The body is the lead plus the article's paragraphs and subheading, in page order."""
    assert news.body_paragraphs == NEWS_BODY


def test_news_page_leaves_out_page_furniture(news: ExtractedPage) -> None:
    """Cookie banner, navigation, caption, related link, comments, newsletter box and footer are
    not in the body."""
    body = "\n".join(news.body_paragraphs)
    for furniture in (
        "Cookies",
        "Startseite",
        "Morgennebel",
        "Lesen Sie auch",
        "Weitere Artikel",
        "Schreiben Sie uns",
        "Leser123",
        "zehn Jahren",
        "Newsletter",
        "Rechte vorbehalten",
        "Teilen",
    ):
        assert furniture not in body, furniture


def test_news_page_metadata_comes_from_json_ld_and_og_tags(news: ExtractedPage) -> None:
    """Headline, authors and date come from JSON-LD, site name from og:site_name, language from
    <html lang> (primary subtag), description from the page, url from the canonical link."""
    assert news.headline == "Stadtrat sperrt alte Hafenbrücke für Autos"
    assert news.authors == ("Erika Musterfrau", "Hans Beispiel")
    assert news.published_at == datetime(2024, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert news.site_name == "Rheinufer Bote"
    assert news.language == "de"
    assert news.description == NEWS_LEAD
    assert news.url == "https://rheinufer-bote.example/lokales/hafenbruecke-gesperrt-123.html"


def test_given_url_wins_over_the_declared_one() -> None:
    """The URL the page was fetched from is the article's URL."""
    assert extract_html(NEWS_PAGE, url="https://mirror.example/a").url == "https://mirror.example/a"


def test_reader_comments_are_only_in_the_body_when_asked_for() -> None:
    """Switching off exclude_comments lets trafilatura's comment section in: the rule decides."""
    with_comments = extract_html(NEWS_PAGE, rules=replace(DEFAULT_RULES, exclude_comments=False))
    assert any("zehn Jahren" in p for p in with_comments.body_paragraphs)


# ---------------------------------------------------------------------------------------------
# Page furniture that trafilatura keeps, and the rules that drop it


def test_lead_shown_in_the_page_header_is_put_back(furniture: ExtractedPage) -> None:
    """The declared description, shown as the header's lead paragraph, opens the body."""
    assert furniture.body_paragraphs[0] == FURNITURE_LEAD
    without_rule = extract_html(FURNITURE_PAGE, rules=replace(DEFAULT_RULES, restore_lead=False))
    assert FURNITURE_LEAD not in without_rule.body_paragraphs


def test_lead_is_not_invented_from_a_description_the_page_does_not_show() -> None:
    """A meta description that no element of the page shows is not added to the body."""
    page = NEWS_PAGE.replace(b'<p class="intro">' + NEWS_LEAD.encode() + b"</p>", b"")
    assert NEWS_LEAD not in extract_html(page).body_paragraphs


def test_furniture_paragraphs_are_dropped(furniture: ExtractedPage) -> None:
    """'Our Standards: <link>', a write-to-us/follow-us prompt and a colon heading are dropped;
    without the rule trafilatura keeps the first two."""
    body = "\n".join(furniture.body_paragraphs)
    assert "Our Standards" not in body
    assert "Write to us" not in body
    assert "More on the bridge debate" not in body
    kept = extract_html(FURNITURE_PAGE, rules=replace(DEFAULT_RULES, drop_furniture=False))
    kept_body = "\n".join(kept.body_paragraphs)
    assert "Our Standards" in kept_body
    assert "Write to us" in kept_body


def test_named_ui_container_is_dropped(furniture: ExtractedPage) -> None:
    """A container named like a modal (reading-list-modal) is removed before extraction."""
    assert not any("reading list" in p for p in furniture.body_paragraphs)
    kept = extract_html(FURNITURE_PAGE, rules=replace(DEFAULT_RULES, remove_ui_containers=False))
    assert any("reading list" in p for p in kept.body_paragraphs)


def test_opening_line_repeating_the_headline_is_dropped(furniture: ExtractedPage) -> None:
    """The title repeated as the first line of the story body is not a paragraph."""
    assert "Harbour bridge to close to cars" not in furniture.body_paragraphs
    kept = extract_html(FURNITURE_PAGE, rules=replace(DEFAULT_RULES, drop_headline_repeat=False))
    assert "Harbour bridge to close to cars" in kept.body_paragraphs


def test_headline_is_a_declared_title_the_page_shows(furniture: ExtractedPage) -> None:
    """og:title 'escenic' (a CMS name) is not shown on the page; the <h1> headline is."""
    assert furniture.headline == "Harbour bridge to close to cars"


def test_hidden_ui_captions_and_time_stamps_are_not_body(furniture: ExtractedPage) -> None:
    """A role=status toast, a figure caption and a 'available until <date>' line are not body."""
    body = "\n".join(furniture.body_paragraphs)
    assert "Saved to your reading list" not in body
    assert "fish market" not in body
    assert "Video available" not in body


HIDDEN_SENTENCE = "Dieser Satz steht in einem Element, das der Leser auf dem Bildschirm nicht sieht."
ARTICLE_HTML = "".join(f"<p>{p}</p>" for p in NEWS_BODY[1:])


@pytest.mark.parametrize(
    ("wrapper", "rule"),
    [
        ("<div hidden><p>{}</p></div>", "remove_hidden_ui"),
        ('<div role="dialog"><p>{}</p></div>', "remove_hidden_ui"),
        ('<div role="status"><p>{}</p></div>', "remove_hidden_ui"),
        ('<div class="sr-only"><p>{}</p></div>', "remove_hidden_ui"),
        ('<div class="media"><img src="x.jpg"><figcaption><p>{}</p></figcaption></div>', "remove_captions"),
    ],
)
def test_hidden_ui_and_captions_are_removed_before_extraction(wrapper: str, rule: str) -> None:
    """Text in hidden elements, ARIA dialogs/toasts, screen-reader-only boxes and image captions
    between article paragraphs is not body; with the rule off, trafilatura would keep it."""
    page = (
        '<html><head><title>T</title></head><body><div class="content">'
        f"{ARTICLE_HTML}{wrapper.format(HIDDEN_SENTENCE)}{ARTICLE_HTML}</div></body></html>"
    )
    assert HIDDEN_SENTENCE not in extract_html(page).body_paragraphs
    rule_off = replace(DEFAULT_RULES, **{rule: False})
    assert HIDDEN_SENTENCE in extract_html(page, rules=rule_off).body_paragraphs


def test_json_ld_article_body_is_used_when_the_page_shows_only_a_teaser() -> None:
    """When the JSON-LD articleBody holds far more text than the page shows, it is the body."""
    full = "\n".join(NEWS_BODY[1:])
    page = (
        '<html lang="de"><head><title>Brücke</title><script type="application/ld+json">'
        '{"@type": "NewsArticle", "headline": "Brücke gesperrt", "articleBody": '
        + json.dumps(full)
        + "}</script></head><body><article><h1>Brücke gesperrt</h1><p>"
        + NEWS_BODY[1]
        + "</p><p>Weiterlesen mit Abo</p></article></body></html>"
    )
    assert extract_html(page).body_paragraphs == NEWS_BODY[1:]


# ---------------------------------------------------------------------------------------------
# Charset


def test_latin1_page_without_declared_charset_decodes_right() -> None:
    """ISO-8859-1 bytes without any charset declaration come out with correct umlauts."""
    page = extract_html(LATIN1_PAGE)
    assert page.headline == "Fähre über den Fluss startet im Mai"
    assert page.body_paragraphs[0].startswith("Die neue Fähre zwischen der Altstadt")
    assert "Bürgermeisterin Jördis Köhler" in page.body_paragraphs[2]


def test_declared_charset_decodes_bytes() -> None:
    """Bytes in windows-1252 with a <meta charset> declaration decode with it."""
    text = NEWS_PAGE.decode("utf-8").replace('<meta charset="utf-8">', '<meta charset="windows-1252">')
    assert extract_html(text.encode("cp1252")).body_paragraphs == NEWS_BODY


def test_str_with_stale_charset_declaration_is_read_as_is() -> None:
    """An already decoded page is not re-decoded by its (now wrong) charset declaration."""
    text = NEWS_PAGE.decode("utf-8").replace('<meta charset="utf-8">', '<meta charset="iso-8859-1">')
    assert extract_html(text).body_paragraphs == NEWS_BODY


# ---------------------------------------------------------------------------------------------
# Unreadable pages and robustness


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   \n ",
        b"",
        "<html><head><title>Leer</title></head><body></body></html>",
        "<html><body><nav><a href='/'>Startseite</a></nav></body></html>",
        bytes(range(256)) * 8,
    ],
)
def test_page_without_main_text_raises_unreadable(html: str | bytes) -> None:
    """Empty pages, pages without text and binary data raise UnreadablePageError."""
    with pytest.raises(UnreadablePageError, match="no main text"):
        extract_html(html)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(["<p>", "</p>", "<div>", "</div>", "<h1>", "<script>", "<meta charset=x>"])
            | st.text(max_size=30),
            max_size=40,
        ).map("".join),
    )
)
def test_any_text_extracts_or_raises_unreadable(html: str) -> None:
    """Any str gives a page with body paragraphs or raises UnreadablePageError, nothing else."""
    try:
        page = extract_html(html)
    except UnreadablePageError:
        return
    assert page.body_paragraphs
    assert page.published_at is None or page.published_at.tzinfo is not None


def test_date_without_zone_is_taken_as_utc() -> None:
    """A declared publication time without a zone is read as UTC (so all dates compare)."""
    page = NEWS_PAGE.replace(b"2024-11-27T09:30:00+01:00", b"2024-11-27T09:30:00")
    assert extract_html(page).published_at == datetime(2024, 11, 27, 9, 30, tzinfo=UTC)
