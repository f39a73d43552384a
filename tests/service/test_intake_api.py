"""Intake's HTTP API in memory: what is accepted reaches the sink; what is not gets a problem."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.intake.app import InMemorySink, create_app
from shared.messages import ArticleReceived
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.service

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PROBLEM = "application/problem+json"


class UnreachableSink:
    async def submit(self, event: ArticleReceived) -> None:
        raise RedisConnectionError("Connection refused")


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def status() -> InMemoryStatusStore:
    return InMemoryStatusStore()


@pytest.fixture
async def client(sink: InMemorySink, status: InMemoryStatusStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(max_body_bytes=50_000), sink=sink, status=status)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield http


def _structured() -> dict:
    return json.loads((SAMPLES / "06_parliament_vote.json").read_text())


async def test_structured_item_is_accepted_published_and_recorded(
    client: httpx.AsyncClient, sink: InMemorySink, status: InMemoryStatusStore
) -> None:
    """A valid JSON item answers 202 with its id, reaches the stream once, and is 'received'."""
    response = await client.post("/v1/articles", json=_structured())
    assert response.status_code == 202
    article_id = response.json()["id"]
    assert response.headers["location"] == f"/v1/articles/{article_id}"
    assert [event.article.id for event in sink.events] == [article_id]
    assert sink.events[0].article.headline == "Parliament approves budget after marathon debate"
    assert len(sink.events[0].article.body) == 3
    found = await client.get(f"/v1/articles/{article_id}")
    assert found.status_code == 200
    assert found.json()["status"] == "received"
    assert found.json()["article"]["headlines"][0]["value"] == sink.events[0].article.headline


async def test_malformed_json_is_a_400_problem_and_nothing_is_published(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """Broken JSON answers 400 application/problem+json and publishes nothing."""
    response = await client.post(
        "/v1/articles", content=b'{"headline": "x", "body": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 400 and problem["type"].endswith("/malformed-json")
    assert sink.events == []


async def test_invalid_item_says_what_is_wrong_and_where(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """A wrongly typed field answers 422 with a JSON Pointer to it."""
    item = _structured() | {"published_at": "not a date"}
    response = await client.post("/v1/articles", json=item)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["pointer"] == "/published_at"
    assert sink.events == []


async def test_item_without_content_is_rejected(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    """An item with a headline but no body (nor page) is a 422 problem."""
    response = await client.post("/v1/articles", json={"headline": "Only a headline"})
    assert response.status_code == 422
    assert "body" in response.json()["detail"]
    assert sink.events == []


@pytest.mark.parametrize(
    ("content", "content_type", "status_code"),
    [
        (b"", "application/json", 400),
        (b"   \n", "text/plain", 400),
        (b"<xml/>", "application/xml", 415),
        (b"{}", "", 415),
        (b"[1, 2]", "application/json", 422),
        (b"x" * 50_001, "text/plain", 413),
    ],
)
async def test_bad_requests_get_the_designed_4xx(
    client: httpx.AsyncClient, sink: InMemorySink, content: bytes, content_type: str, status_code: int
) -> None:
    """Empty, unsupported, non-object and oversized bodies answer a 4xx problem; nothing is published."""
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/v1/articles", content=content, headers=headers)
    assert response.status_code == status_code
    assert response.headers["content-type"] == PROBLEM
    assert sink.events == []


async def test_unknown_article_is_a_404_problem(client: httpx.AsyncClient) -> None:
    """Asking for an id never accepted answers 404 problem+json."""
    response = await client.get("/v1/articles/NOPE")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_unreachable_redis_answers_503_with_retry_after(status: InMemoryStatusStore) -> None:
    """When the stream cannot be written, intake answers 503 (never 500) and says when to retry."""
    app = create_app(Settings(), sink=UnreachableSink(), status=status)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as http:
        response = await http.post("/v1/articles", json=_structured())
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"


async def test_text_page_and_json_text_give_the_same_article(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """The seed page posted as text/plain and as JSON {"text": ...} reads the same."""
    page = (SAMPLES / "01_seed_deutsche_tageszeitung.txt").read_text(encoding="utf-8")
    plain = await client.post("/v1/articles", content=page.encode(), headers={"content-type": "text/plain"})
    as_json = await client.post("/v1/articles", json={"text": page})
    assert (plain.status_code, as_json.status_code) == (202, 202)
    first, second = (event.article for event in sink.events)
    assert first.headline == second.headline == "Putin will bei Besuch in Kasachstan Beziehungen festigen"
    assert first.body == second.body
    assert first.site_name == "Deutsche Tageszeitung"
