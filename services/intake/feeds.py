"""The feed poller: RSS and Atom feeds read with feedparser, each entry submitted once.

Runs inside the intake process (started by its lifespan when ``NEWSWIRE_FEEDS`` is set). Per
feed: a conditional GET (ETag / Last-Modified kept in Redis), then every entry through the same
path as a POST (same validation, same idempotency, same sink), keyed by its guid (entry id, else
link) within the feed. An entry already published with the same fingerprint is skipped before
anything is fetched; a changed entry becomes a new version of the same article. A failing feed
is polled again after an exponentially growing, capped wait. With several intake replicas a
short lease in Redis lets one of them poll a feed per interval.

Feed URLs are checked to be http(s). They come from the operator's configuration, not from
callers; the resolver check that the pusher applies to subscriber webhooks (non-public
addresses) could be applied here too if feeds ever become user-supplied.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import feedparser
import httpx
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from services.intake.idempotency import IdempotencyKey
from services.intake.markup import html_paragraphs, html_text
from services.intake.normalise import (
    InputError,
    Submission,
    from_html_page,
    from_item,
    new_article_id,
    parse_item,
    submission_for,
)
from services.intake.submission import (
    Acceptor,
    StoreUnavailableError,
    SubmissionConflictError,
    store_call,
)
from shared.messages import Article

log = structlog.stdlib.get_logger("newswire.intake.feeds")

FEED_KEY_PREFIX = "newswire:feed:"
MAX_FETCH_BYTES = 10_000_000
USER_AGENT = "newswire-feed-poller/0.1 (+https://newswire.dev)"


class FetchError(Exception):
    """A fetch that gave no usable answer (network, timeout, too large, bad scheme)."""


class FeedError(Exception):
    """A feed that could not be read (HTTP error status, not a feed)."""


def check_feed_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"not an http(s) URL: {safe_url(url)!r}"
        raise ValueError(msg)
    return url


def safe_url(url: str) -> str:
    """A URL fit for logs: no user info, query or fragment (they may carry tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


@dataclass(frozen=True)
class FetchResult:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str


class Fetcher(Protocol):
    async def fetch(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        """GET ``url``; raises FetchError when no answer came. Header names are lower case."""
        ...


class HttpxFetcher:
    """Real HTTP: bounded in time and size, redirects followed (http(s) only, at most 5)."""

    def __init__(
        self,
        timeout_s: float,
        max_bytes: int = MAX_FETCH_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=True,
            max_redirects=5,
            headers={"user-agent": USER_AGENT},
            transport=transport,
        )
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes

    async def fetch(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        try:
            check_feed_url(url)
            # httpx's timeout bounds each read; this bounds the whole exchange.
            async with asyncio.timeout(self._timeout_s * 2):
                async with self._client.stream("GET", url, headers=dict(headers)) as response:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > self._max_bytes:
                            msg = f"more than {self._max_bytes} bytes"
                            raise FetchError(msg)
                    answer_headers = {name.lower(): value for name, value in response.headers.items()}
                    return FetchResult(response.status_code, answer_headers, bytes(body), str(response.url))
        except (httpx.HTTPError, TimeoutError, ValueError) as error:
            raise FetchError(f"{type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class FeedValidators:
    """What the server said about the version we have (for a conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["if-none-match"] = self.etag
        if self.last_modified:
            headers["if-modified-since"] = self.last_modified
        return headers


class FeedStateStore(Protocol):
    async def validators(self, url: str) -> FeedValidators: ...

    async def save_validators(self, url: str, validators: FeedValidators) -> None: ...

    async def lease(self, url: str, seconds: float) -> bool:
        """True if this poller may poll ``url`` now (no other replica holds the lease)."""
        ...


class InMemoryFeedStateStore:
    def __init__(self) -> None:
        self.saved: dict[str, FeedValidators] = {}
        self.leased: set[str] = set()

    async def validators(self, url: str) -> FeedValidators:
        return self.saved.get(url, FeedValidators())

    async def save_validators(self, url: str, validators: FeedValidators) -> None:
        self.saved[url] = validators

    async def lease(self, url: str, seconds: float) -> bool:
        return True  # one process: nobody to share with


def _feed_key(url: str) -> str:
    return FEED_KEY_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:32]


class RedisFeedStateStore:
    """``newswire:feed:<digest>`` hashes (etag, last_modified) and ``...:lease`` keys."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: float = 30 * 86_400) -> None:
        self._client = client
        self._ttl_s = int(ttl_seconds)

    async def validators(self, url: str) -> FeedValidators:
        etag, modified = await self._client.hmget(_feed_key(url), ["etag", "last_modified"])
        return FeedValidators(
            etag.decode() if isinstance(etag, bytes) else etag,
            modified.decode() if isinstance(modified, bytes) else modified,
        )

    async def save_validators(self, url: str, validators: FeedValidators) -> None:
        key = _feed_key(url)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            values = {"etag": validators.etag, "last_modified": validators.last_modified}
            for name, value in values.items():
                if value:
                    pipe.hset(key, name, value)
            pipe.expire(key, self._ttl_s)
            await pipe.execute()

    async def lease(self, url: str, seconds: float) -> bool:
        taken = await self._client.set(
            f"{_feed_key(url)}:lease", "1", nx=True, px=max(1, int(seconds * 1000))
        )
        return bool(taken)


@dataclass(frozen=True)
class FeedEntry:
    """One entry as the feed gives it; ``fingerprint`` changes when the entry does."""

    guid: str
    headline: str
    body: tuple[str, ...]
    link: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    language: str | None = None
    fingerprint: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: tuple[FeedEntry, ...]


def _moment(entry: Mapping[str, Any]) -> datetime | None:
    for name in ("published_parsed", "updated_parsed"):
        parsed = dict.get(entry, name)  # type: ignore[call-overload]  # plain lookup: FeedParserDict maps a missing `updated` to `published` with a warning
        if parsed:
            year, month, day, hour, minute, second = parsed[:6]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return None


def _entry_text(entry: Mapping[str, Any]) -> tuple[str, ...]:
    contents = entry.get("content") or []
    for content in sorted(contents, key=lambda c: "html" not in str(c.get("type", ""))):
        paragraphs = html_paragraphs(str(content.get("value") or ""))
        if paragraphs:
            return paragraphs
    return html_paragraphs(str(entry.get("summary") or ""))


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [str(author.get("name") or "").strip() for author in entry.get("authors") or []]
    names = [name for name in names if name]
    if not names and entry.get("author"):
        names = [str(entry["author"]).strip()]
    return tuple(names)


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """RSS or Atom bytes as entries (relative links resolved against ``url``); FeedError if not a feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(content, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(f"not an RSS or Atom feed ({parsed.get('bozo_exception') or 'no entries'})")
    feed = parsed.feed
    language = feed.get("language") or None
    entries = []
    for entry in parsed.entries:
        guid = str(entry.get("id") or entry.get("link") or "").strip()
        if not guid:
            continue  # nothing to recognise it by next time: it would be submitted on every poll
        title = html_text(str(entry.get("title") or ""))
        body = _entry_text(entry)
        link = entry.get("link") or None
        published = _moment(entry)
        fingerprint = hashlib.sha256(
            json.dumps(
                [guid, link, title, body, dict.get(entry, "updated") or dict.get(entry, "published")],
                ensure_ascii=False,
            ).encode("utf-8", "surrogatepass")
        ).hexdigest()
        entries.append(
            FeedEntry(
                guid=guid,
                headline=title,
                body=body,
                link=link,
                authors=_authors(entry),
                published_at=published,
                language=(entry.get("title_detail") or {}).get("language") or language,
                fingerprint=fingerprint,
            )
        )
    return ParsedFeed(title=html_text(str(feed.get("title") or "")) or None, entries=tuple(entries))


def entry_article(entry: FeedEntry, source: str | None, received_at: datetime) -> Article:
    """The entry's own text as an article, through the same validation as a JSON POST."""
    item = parse_item(
        {
            "headline": entry.headline or None,
            "body": list(entry.body) or None,
            "url": entry.link,
            "guid": entry.guid,
            "source": source,
            "language": entry.language,
            "published_at": entry.published_at.isoformat() if entry.published_at else None,
            "authors": list(entry.authors),
        }
    )
    article = from_item(item, submission_for(item, new_article_id(received_at.timestamp()), received_at))
    return article.model_copy(update={"format": "feed"})


PollStatus = Literal["updated", "not_modified", "failed", "skipped"]


@dataclass
class PollReport:
    status: PollStatus
    published: int = 0
    duplicates: int = 0
    rejected: int = 0
    retry_after_s: float | None = None
    errors: list[str] = field(default_factory=list)


class FeedPoller:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        fetcher: Fetcher,
        state: FeedStateStore,
        intake: Acceptor,
        interval_s: float = 300.0,
        max_backoff_s: float = 3600.0,
        fetch_pages: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.urls = tuple(check_feed_url(url) for url in urls)
        self._fetcher = fetcher
        self._state = state
        self._intake = intake
        self._interval_s = interval_s
        self._max_backoff_s = max(max_backoff_s, interval_s)
        self._fetch_pages = fetch_pages
        self._clock = clock
        self._sleep = sleep
        self.failures: dict[str, int] = dict.fromkeys(self.urls, 0)

    async def aclose(self) -> None:
        close = getattr(self._fetcher, "aclose", None)
        if close is not None:
            await close()

    def next_delay(self, url: str, report: PollReport) -> float:
        """Seconds until ``url`` is polled again: the interval, or a capped doubling while it fails."""
        if report.status != "failed":
            self.failures[url] = 0
            return self._interval_s
        self.failures[url] += 1
        backoff = self._interval_s * 2 ** min(self.failures[url], 30)
        if report.retry_after_s is not None:
            backoff = max(backoff, report.retry_after_s)
        return min(backoff, self._max_backoff_s)

    async def run(self) -> None:
        """Poll every feed when due, forever (cancel the task to stop)."""
        due = dict.fromkeys(self.urls, self._clock())
        while True:
            for url in self.urls:
                if due[url] <= self._clock():
                    report = await self.poll(url)
                    due[url] = self._clock() + self.next_delay(url, report)
            await self._sleep(max(0.05, min(due.values()) - self._clock()))

    async def poll(self, url: str) -> PollReport:
        """One conditional GET of ``url`` and the submission of its entries; never raises."""
        bound = log.bind(feed=safe_url(url))
        try:
            if not await self._state.lease(url, self._interval_s * 0.9):
                return PollReport("skipped")
            report = await self._poll(url)
        except (FetchError, FeedError, StoreUnavailableError, RedisError, OSError) as error:
            report = PollReport("failed", errors=[str(error) or type(error).__name__])
        except Exception as error:  # a bug in one feed must not stop the others
            bound.exception("feed.poll_crashed")
            report = PollReport("failed", errors=[type(error).__name__])
        if report.status == "failed":
            bound.warning("feed.failed", error=report.errors[0] if report.errors else None)
        elif report.status == "updated":
            bound.info(
                "feed.polled",
                published=report.published,
                duplicates=report.duplicates,
                rejected=report.rejected,
            )
        return report

    async def _poll(self, url: str) -> PollReport:
        validators = await self._validators(url)
        answer = await self._fetcher.fetch(url, validators.request_headers())
        if answer.status == 304:
            return PollReport("not_modified")
        if answer.status != 200:
            return PollReport(
                "failed", retry_after_s=_retry_after(answer.headers), errors=[f"HTTP {answer.status}"]
            )
        feed = parse_feed(answer.content, answer.url, answer.headers.get("content-type"))
        report = PollReport("updated")
        for entry in feed.entries:
            await self._submit(url, feed, entry, report)
        # Only after every entry is in: a crash before re-reads the feed, and idempotency absorbs it.
        await self._save_validators(
            url, FeedValidators(answer.headers.get("etag"), answer.headers.get("last-modified"))
        )
        return report

    async def _submit(self, url: str, feed: ParsedFeed, entry: FeedEntry, report: PollReport) -> None:
        key = IdempotencyKey.for_guid(entry.guid, f"feed:{url}")
        if await self._intake.published_fingerprint(key) == entry.fingerprint:
            report.duplicates += 1  # unchanged since it was published: nothing to fetch or parse
            return
        try:
            article = await self._article(feed, entry)
        except InputError as error:
            report.rejected += 1
            log.info("feed.entry_rejected", feed=safe_url(url), reason=error.kind)
            return
        try:
            accepted = await self._intake.accept(article, key, fingerprint=entry.fingerprint)
        except SubmissionConflictError:
            return  # another replica is publishing this very entry
        if accepted.duplicate:
            report.duplicates += 1
        else:
            report.published += 1

    async def _article(self, feed: ParsedFeed, entry: FeedEntry) -> Article:
        received_at = datetime.now(UTC)
        if self._fetch_pages and entry.link:
            page = await self._page_article(feed, entry, received_at)
            if page is not None:
                return page
        return entry_article(entry, feed.title, received_at)

    async def _page_article(
        self, feed: ParsedFeed, entry: FeedEntry, received_at: datetime
    ) -> Article | None:
        """The linked page read like a posted HTML page, or None (then the entry's own text is used)."""
        assert entry.link is not None
        try:
            answer = await self._fetcher.fetch(check_feed_url(entry.link), {})
        except (FetchError, ValueError) as error:
            log.info("feed.page_unavailable", page=safe_url(entry.link), error=str(error))
            return None
        if answer.status != 200:
            log.info("feed.page_unavailable", page=safe_url(entry.link), error=f"HTTP {answer.status}")
            return None
        submission = Submission(
            article_id=new_article_id(received_at.timestamp()),
            received_at=received_at,
            url=answer.url,
            guid=entry.guid,
            source=feed.title,
            language=entry.language,
            published_at=entry.published_at,
        )
        try:
            return from_html_page(answer.content, submission)
        except InputError:
            return None

    async def _validators(self, url: str) -> FeedValidators:
        async with store_call():
            return await self._state.validators(url)

    async def _save_validators(self, url: str, validators: FeedValidators) -> None:
        async with store_call():
            await self._state.save_validators(url, validators)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
