"""HTML pages read in a worker process: same article, same problems, the loop stays free, bounded."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.intake.app import InMemorySink, create_app
from services.intake.pages import PageReaders
from services.intake.problems import Problem
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.service

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "html"
NEWS_PAGE = (FIXTURES / "news_page.html").read_bytes()
HTML = {"content-type": "text/html; charset=utf-8"}


@pytest.fixture
async def worker_app() -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySink]]:
    sink = InMemorySink()
    app = create_app(Settings(intake_page_workers=1), sink=sink, status=InMemoryStatusStore())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as http,
    ):
        yield http, sink


async def test_a_page_read_in_a_worker_is_the_page_read_on_the_loop(
    worker_app: tuple[httpx.AsyncClient, InMemorySink],
) -> None:
    """The same HTML page, as a body and inside a JSON item, gives the article it gives on the loop."""
    http, sink = worker_app
    assert (await http.post("/v1/articles", content=NEWS_PAGE, headers=HTML)).status_code == 202
    item = {"html": NEWS_PAGE.decode(), "url": "https://news.example/a"}
    assert (await http.post("/v1/articles", json=item)).status_code == 202
    on_loop = InMemorySink()
    loop_app = create_app(Settings(intake_page_workers=0), sink=on_loop, status=InMemoryStatusStore())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=loop_app), base_url="http://i") as plain:
        await plain.post("/v1/articles", content=NEWS_PAGE, headers=HTML)
        await plain.post("/v1/articles", json=item)
    read = [(e.article.headline, e.article.body, e.article.url) for e in sink.events]
    expected = [(e.article.headline, e.article.body, e.article.url) for e in on_loop.events]
    assert read == expected
    assert read[0][1]  # a body was found


async def test_an_unreadable_page_in_a_worker_is_the_same_422_problem(
    worker_app: tuple[httpx.AsyncClient, InMemorySink],
) -> None:
    """The reader's error crosses the process boundary whole: kind, message and JSON Pointer."""
    http, _ = worker_app
    answer = await http.post("/v1/articles", json={"html": "<html><body><nav>Home</nav></body></html>"})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("/unreadable-article")
    assert problem["errors"][0]["pointer"] == "/html"


async def test_the_loop_answers_while_a_worker_reads() -> None:
    """Two seconds of work in a worker leave the event loop free: a 10 ms timer fires on time."""
    pages = PageReaders(workers=1)
    try:
        pages.start()
        await asyncio.sleep(0)
        work = asyncio.create_task(pages.run(time.sleep, 2.0))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await asyncio.sleep(0.01)
        assert time.monotonic() - started < 0.5
        assert not work.done()
        await work
    finally:
        pages.close()


async def test_pages_past_the_waiting_bound_are_503_at_once() -> None:
    """With one page waiting and a bound of one, the next is refused with a Retry-After problem."""
    pages = PageReaders(workers=1, max_waiting=1)
    try:
        first = asyncio.create_task(pages.run(time.sleep, 0.5))
        await asyncio.sleep(0)
        with pytest.raises(Problem) as refused:
            await pages.run(json.dumps, {})
        assert (refused.value.status, refused.value.headers["Retry-After"]) == (503, "1")
        await first
        assert await pages.run(json.dumps, {"a": 1}) == '{"a": 1}'
    finally:
        pages.close()
