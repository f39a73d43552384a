"""The feed poller: RSS and Atom read right, each entry published once, conditional GET, backoff.

No network: a fake web serves hand-written feeds (tests/fixtures/feeds) and honours conditional
requests like a real server; the HTTP fetcher is exercised through httpx's mock transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.intake.app import InMemorySink
from services.intake.feeds import (
    FeedError,
    FeedPoller,
    FetchError,
    FetchResult,
    HttpxFetcher,
    InMemoryFeedStateStore,
    parse_feed,
)
from services.intake.idempotency import InMemoryIdempotencyStore
from services.intake.submission import Intake
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RSS = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
ATOM = (FIXTURES / "feeds" / "atom.xml").read_bytes()
NEWS_PAGE = (FIXTURES / "html" / "news_page.html").read_bytes()
RSS_URL = "https://wochenpost.example/feed.rss"
ATOM_URL = "https://gazette.example/feed.atom"


class FakeWeb:
    """Serves fixed answers; honours If-None-Match / If-Modified-Since like a real server."""

    def __init__(self) -> None:
        self.answers: dict[str, FetchResult | Exception] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def serve(self, url: str, content: bytes, status: int = 200, **headers: str) -> None:
        self.answers[url] = FetchResult(
            status, {k.replace("_", "-"): v for k, v in headers.items()}, content, url
        )

    async def fetch(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        self.requests.append((url, dict(headers)))
        answer = self.answers.get(url)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            return FetchResult(404, {}, b"", url)
        etag, modified = answer.headers.get("etag"), answer.headers.get("last-modified")
        if (etag and headers.get("if-none-match") == etag) or (
            modified and headers.get("if-modified-since") == modified
        ):
            return FetchResult(304, {}, b"", url)
        return answer


class Parts:
    def __init__(self, urls: tuple[str, ...], **options: object) -> None:
        self.web = FakeWeb()
        self.sink = InMemorySink()
        self.state = InMemoryFeedStateStore()
        intake = Intake(self.sink, InMemoryStatusStore(), InMemoryIdempotencyStore(3600))
        self.poller = FeedPoller(urls, fetcher=self.web, state=self.state, intake=intake, **options)  # type: ignore[arg-type]  # options are the poller's keyword settings

    @property
    def published(self) -> list[tuple[str, int, str]]:
        return [(e.article.guid or "", e.article.version, e.article.headline) for e in self.sink.events]


def test_rss_entries_are_read_with_guid_text_author_date_and_language() -> None:
    """RSS 2.0: guid (else link), content:encoded paragraphs over the description, dc:creator,
    pubDate in UTC, the channel's language."""
    feed = parse_feed(RSS, RSS_URL)
    assert feed.title == "Rheinische Wochenpost"
    budget, flood, bare = feed.entries
    assert budget.guid == "wp-2026-0001"
    assert budget.body == (
        "Der Stadtrat hat nach langer Debatte den Haushalt für 2026 beschlossen.",
        "Die Opposition kritisierte die geplanten Kürzungen bei den Bädern.",
    )
    assert budget.authors == ("Anna Beispiel",)
    assert budget.published_at == datetime(2026, 11, 26, 7, 15, tzinfo=UTC)
    assert budget.language == "de"
    assert flood.guid == flood.link == "https://wochenpost.example/region/pegel"
    assert len(flood.body) == 2
    assert bare.body == ()


def test_atom_entries_have_plain_headlines_resolved_links_and_all_authors() -> None:
    """Atom: an HTML title becomes text, a relative link is resolved, every author is kept."""
    strike, ferry = parse_feed(ATOM, ATOM_URL).entries
    assert strike.headline == "Port strike ends after three days"
    assert strike.link == "https://gazette.example/news/strike-ends"
    assert strike.authors == ("Sam Example", "Kim Sample")
    assert strike.guid == "tag:gazette.example,2026:strike-ends"
    assert strike.language == "en"
    assert ferry.body == ("The winter timetable starts on 1 December with fewer crossings at night.",)


def test_a_page_that_is_not_a_feed_is_a_feed_error() -> None:
    """HTML served where a feed was expected fails the poll instead of publishing nonsense."""
    with pytest.raises(FeedError):
        parse_feed(b"<html><body><p>Hello</p></body></html>", RSS_URL)


async def test_each_entry_with_text_is_published_once_as_a_feed_article() -> None:
    """Entries become articles (format feed, source the feed title); one without text is rejected."""
    parts = Parts((RSS_URL,))
    parts.web.serve(RSS_URL, RSS)
    report = await parts.poller.poll(RSS_URL)
    assert (report.status, report.published, report.rejected) == ("updated", 2, 1)
    articles = [event.article for event in parts.sink.events]
    assert [a.guid for a in articles] == ["wp-2026-0001", "https://wochenpost.example/region/pegel"]
    assert {a.format for a in articles} == {"feed"}
    assert {a.source for a in articles} == {"Rheinische Wochenpost"}
    assert articles[0].authors == ("Anna Beispiel",)


async def test_conditional_get_sends_the_validators_and_a_304_publishes_nothing() -> None:
    """The ETag and Last-Modified of the last answer are sent back; 'not modified' adds nothing."""
    parts = Parts((RSS_URL,))
    parts.web.serve(RSS_URL, RSS, etag='"v1"', last_modified="Thu, 26 Nov 2026 09:00:00 GMT")
    await parts.poller.poll(RSS_URL)
    second = await parts.poller.poll(RSS_URL)
    assert second.status == "not_modified"
    assert parts.web.requests[-1][1] == {
        "if-none-match": '"v1"',
        "if-modified-since": "Thu, 26 Nov 2026 09:00:00 GMT",
    }
    assert len(parts.sink.events) == 2


async def test_an_unchanged_feed_without_validators_publishes_no_entry_twice() -> None:
    """A server that ignores conditional GET: the same entries again are recognised by guid."""
    parts = Parts((ATOM_URL,))
    parts.web.serve(ATOM_URL, ATOM)
    await parts.poller.poll(ATOM_URL)
    again = await parts.poller.poll(ATOM_URL)
    assert (again.published, again.duplicates) == (0, 2)
    assert len(parts.sink.events) == 2


async def test_a_changed_entry_is_a_new_version_of_the_same_article() -> None:
    """An entry edited upstream keeps its id and is published again with version 2."""
    parts = Parts((ATOM_URL,))
    parts.web.serve(ATOM_URL, ATOM)
    await parts.poller.poll(ATOM_URL)
    parts.web.serve(ATOM_URL, ATOM.replace(b"fewer crossings at night", b"no crossings at night"))
    report = await parts.poller.poll(ATOM_URL)
    assert (report.published, report.duplicates) == (1, 1)
    first, second = (e.article for e in parts.sink.events if e.article.guid.endswith("ferry-winter"))  # type: ignore[union-attr]  # feed articles always carry a guid
    assert second.id == first.id and (first.version, second.version) == (1, 2)
    assert "no crossings" in second.body[0]


async def test_failures_back_off_exponentially_up_to_the_cap_and_reset_on_success() -> None:
    """Each failure doubles the wait (capped); a success returns to the interval."""
    parts = Parts((RSS_URL,), interval_s=60, max_backoff_s=300)
    parts.web.answers[RSS_URL] = FetchError("connection refused")
    delays = []
    for _ in range(4):
        report = await parts.poller.poll(RSS_URL)
        assert report.status == "failed"
        delays.append(parts.poller.next_delay(RSS_URL, report))
    assert delays == [120, 240, 300, 300]
    parts.web.serve(RSS_URL, RSS)
    report = await parts.poller.poll(RSS_URL)
    assert parts.poller.next_delay(RSS_URL, report) == 60


async def test_an_http_error_honours_retry_after_within_the_cap() -> None:
    """A 503 with Retry-After waits at least that long (never beyond the cap)."""
    parts = Parts((RSS_URL,), interval_s=10, max_backoff_s=600)
    parts.web.serve(RSS_URL, b"", status=503, retry_after="500")
    report = await parts.poller.poll(RSS_URL)
    assert report.status == "failed"
    assert parts.poller.next_delay(RSS_URL, report) == 500
    assert parts.sink.events == []


async def test_linked_pages_are_read_when_configured_and_the_entry_text_is_the_fallback() -> None:
    """With fetch_pages the linked HTML page gives the article; a page that fails leaves the entry's text."""
    parts = Parts((RSS_URL,), fetch_pages=True)
    parts.web.serve(RSS_URL, RSS)
    parts.web.serve("https://wochenpost.example/politik/haushalt-2026", NEWS_PAGE)
    await parts.poller.poll(RSS_URL)
    from_page, from_entry = (event.article for event in parts.sink.events)
    assert from_page.headline == "Stadtrat sperrt alte Hafenbrücke für Autos"
    assert from_page.format == "html" and from_page.guid == "wp-2026-0001"
    assert from_entry.headline == "Hochwasser: Pegel am Rhein sinkt wieder"  # its page answered 404
    assert from_entry.format == "feed"


async def test_unchanged_entries_do_not_fetch_their_pages_again() -> None:
    """A re-served, unchanged entry is skipped before its page is fetched."""
    parts = Parts((RSS_URL,), fetch_pages=True)
    parts.web.serve(RSS_URL, RSS)
    parts.web.serve("https://wochenpost.example/politik/haushalt-2026", NEWS_PAGE)
    await parts.poller.poll(RSS_URL)
    fetched_before = len(parts.web.requests)
    await parts.poller.poll(RSS_URL)
    assert [url for url, _ in parts.web.requests[fetched_before:]] == [RSS_URL]


def test_only_http_feed_urls_are_accepted() -> None:
    """file:, ftp: or host-less URLs are refused when the poller is built."""
    for url in ("file:///etc/passwd", "ftp://example.org/feed", "https:///feed"):
        with pytest.raises(ValueError, match="http"):
            Parts((url,))


async def test_run_polls_every_feed_and_stops_when_cancelled() -> None:
    """The loop polls each feed once when due, sleeps until the next is due, and ends on cancel."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        raise asyncio.CancelledError

    parts = Parts((RSS_URL, ATOM_URL), interval_s=30, sleep=sleep)
    parts.web.serve(RSS_URL, RSS)
    parts.web.serve(ATOM_URL, ATOM)
    with pytest.raises(asyncio.CancelledError):
        await parts.poller.run()
    assert [url for url, _ in parts.web.requests] == [RSS_URL, ATOM_URL]
    assert len(parts.sink.events) == 4
    assert 29 < slept[0] <= 30


async def test_the_http_fetcher_caps_size_and_reports_transport_errors() -> None:
    """A body over the size cap and a refused connection are FetchErrors; headers come back lower-cased."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * (len(RSS) + 1_000))
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=RSS, headers={"ETag": '"a"'})

    fetcher = HttpxFetcher(5.0, max_bytes=len(RSS) + 100, transport=httpx.MockTransport(handler))
    answer = await fetcher.fetch("https://feeds.example/ok", {})
    assert answer.status == 200 and answer.headers["etag"] == '"a"' and answer.content == RSS
    for path in ("/big", "/down"):
        with pytest.raises(FetchError):
            await fetcher.fetch(f"https://feeds.example{path}", {})
    with pytest.raises(FetchError):
        await fetcher.fetch("file:///etc/passwd", {})
    await fetcher.aclose()
