"""The feed poller inside the intake app: started by its lifespan when NEWSWIRE_FEEDS is set."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from services.intake.app import InMemorySink, create_app
from services.intake.feeds import FetchResult, InMemoryFeedStateStore
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.service

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
FEED_URL = "https://gazette.example/feed.atom"


class OneFeed:
    def __init__(self, content: bytes) -> None:
        self.content = content
        self.fetched = 0

    async def fetch(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        self.fetched += 1
        if url != FEED_URL:
            return FetchResult(404, {}, b"", url)
        return FetchResult(200, {"etag": '"1"'}, self.content, url)


async def test_the_lifespan_polls_configured_feeds_into_the_stream_and_stops_on_shutdown() -> None:
    """With NEWSWIRE_FEEDS set, entries reach the sink while the app runs; shutdown stops polling."""
    sink, web = InMemorySink(), OneFeed((FEEDS / "atom.xml").read_bytes())
    app = create_app(
        Settings(feeds=(FEED_URL,), feed_interval_s=0.05),
        sink=sink,
        status=InMemoryStatusStore(),
        feed_fetcher=web,
        feed_state=InMemoryFeedStateStore(),
    )
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if web.fetched >= 2:
                break
            await asyncio.sleep(0.02)
    fetched = web.fetched
    await asyncio.sleep(0.15)
    assert fetched >= 2 and web.fetched == fetched  # polled repeatedly, then no more after shutdown
    assert sorted(event.article.headline for event in sink.events) == [
        "Ferry timetable changes for winter",
        "Port strike ends after three days",
    ]


def test_a_feed_url_that_is_not_http_is_a_configuration_error() -> None:
    """NEWSWIRE_FEEDS=file:///... refuses to start rather than reading local files."""
    with pytest.raises(ValueError, match="http"):
        create_app(Settings(feeds=("file:///etc/passwd",)), sink=InMemorySink(), status=InMemoryStatusStore())
