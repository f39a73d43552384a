"""Idempotent intake over HTTP: one article per guid (or Idempotency-Key), versions when it changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.intake.app import InMemorySink, create_app
from services.intake.idempotency import IdempotencyKey, InMemoryIdempotencyStore
from shared.messages import ArticleReceived
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.service

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ITEM = {
    "headline": "Parliament approves budget after marathon debate",
    "body": ["The parliament approved the budget on Thursday.", "The vote was 312 to 250."],
    "guid": "wire-2026-0042",
    "source": "Example Wire",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class SlowSink(InMemorySink):
    """Publishing takes a moment, so concurrent submissions overlap."""

    async def submit(self, event: ArticleReceived) -> None:
        await asyncio.sleep(0.05)
        await super().submit(event)


class FlakySink(InMemorySink):
    """Fails the first publish like a dropped Redis connection, then works."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def submit(self, event: ArticleReceived) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection reset")
        await super().submit(event)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore(ttl_seconds=3600, lease_seconds=10, clock=clock)


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


async def _client(
    sink: InMemorySink, store: InMemoryIdempotencyStore, **settings: object
) -> httpx.AsyncClient:
    app = create_app(Settings(**settings), sink=sink, status=InMemoryStatusStore(), idempotency=store)  # type: ignore[arg-type]  # keyword settings
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


@pytest.fixture
async def client(sink: InMemorySink, store: InMemoryIdempotencyStore) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(sink, store) as http:
        yield http


async def test_the_same_guid_twice_is_one_article_and_one_stream_entry(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """A resubmitted item answers 202 with the same id, marked as a duplicate submission; one entry."""
    first = await client.post("/v1/articles", json=ITEM)
    second = await client.post("/v1/articles", json=ITEM)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {**first.json(), "duplicate_submission": True}
    assert len(sink.events) == 1
    assert sink.events[0].article.guid == ITEM["guid"]


async def test_a_guid_is_scoped_by_its_source(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    """The same guid from two sources names two articles."""
    first = await client.post("/v1/articles", json=ITEM)
    other = await client.post("/v1/articles", json=ITEM | {"source": "Another Wire"})
    assert first.json()["id"] != other.json()["id"]
    assert len(sink.events) == 2


async def test_changed_content_under_a_guid_is_a_new_version_of_the_same_article(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """Same guid, corrected body: same id, version 2, published again, and the status shows version 2."""
    first = await client.post("/v1/articles", json=ITEM)
    corrected = ITEM | {"body": [*ITEM["body"][:1], "The vote was 312 to 249."]}
    second = await client.post("/v1/articles", json=corrected)
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert [(e.article.id, e.article.version) for e in sink.events] == [
        (first.json()["id"], 1),
        (first.json()["id"], 2),
    ]
    found = (await client.get(f"/v1/articles/{first.json()['id']}")).json()
    assert found["article"]["version"] == "2"
    third = await client.post("/v1/articles", json=corrected)
    assert third.json()["duplicate_submission"] is True and len(sink.events) == 2


async def test_an_idempotency_key_makes_any_body_idempotent(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """A page posted twice with one Idempotency-Key is one article; the key for other content: 409."""
    page = (SAMPLES / "01_seed_deutsche_tageszeitung.txt").read_bytes()
    headers = {"content-type": "text/plain", "idempotency-key": "upload-7"}
    first = await client.post("/v1/articles", content=page, headers=headers)
    second = await client.post("/v1/articles", content=page, headers=headers)
    assert second.json()["id"] == first.json()["id"] and len(sink.events) == 1
    reused = await client.post("/v1/articles", json=ITEM, headers={"idempotency-key": "upload-7"})
    assert reused.status_code == 409
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    assert len(sink.events) == 1


async def test_without_guid_or_key_every_submission_is_new(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """Intake cannot tell a resubmission without a name for it: dedup's job, not intake's."""
    item = {key: value for key, value in ITEM.items() if key != "guid"}
    first = await client.post("/v1/articles", json=item)
    second = await client.post("/v1/articles", json=item)
    assert first.json()["id"] != second.json()["id"] and len(sink.events) == 2


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\there"])
async def test_a_malformed_idempotency_key_is_a_400(
    client: httpx.AsyncClient, sink: InMemorySink, value: str
) -> None:
    """Empty, over-long or control-character keys are refused before anything is published."""
    response = await client.post("/v1/articles", json=ITEM, headers={"idempotency-key": value})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-idempotency-key")
    assert sink.events == []


async def test_concurrent_submissions_of_one_guid_publish_one_entry(store: InMemoryIdempotencyStore) -> None:
    """Ten simultaneous posts of one item: one entry; the others get its id (202) or a retry (409)."""
    sink = SlowSink()
    async with await _client(sink, store) as http:
        answers = await asyncio.gather(*(http.post("/v1/articles", json=ITEM) for _ in range(10)))
    assert len(sink.events) == 1
    assert {a.status_code for a in answers} <= {202, 409}
    assert {a.json()["id"] for a in answers if a.status_code == 202} == {sink.events[0].article.id}
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 409)


async def test_a_failed_publish_can_be_retried_at_once_and_publishes_once(
    store: InMemoryIdempotencyStore,
) -> None:
    """A publish that fails answers 503 and releases the key; the client's retry publishes exactly once."""
    sink = FlakySink()
    async with await _client(sink, store) as http:
        failed = await http.post("/v1/articles", json=ITEM)
        retried = await http.post("/v1/articles", json=ITEM)
    assert failed.status_code == 503
    assert retried.status_code == 202 and "duplicate_submission" not in retried.json()
    assert len(sink.events) == 1


async def test_a_claim_left_by_a_crashed_replica_is_taken_over_after_its_lease(
    client: httpx.AsyncClient, sink: InMemorySink, store: InMemoryIdempotencyStore, clock: Clock
) -> None:
    """A replica that claimed a guid and died: the article is not lost, it gets the claimed id."""
    key = IdempotencyKey.for_guid(ITEM["guid"], ITEM["source"])  # type: ignore[arg-type]  # ITEM's values are str
    claim = await store.claim(key, "01CRASHEDREPLICA0000000000", "fingerprint-of-the-lost-attempt")
    during = await client.post("/v1/articles", json=ITEM)
    assert during.status_code == 409 and sink.events == []
    clock.now += 11
    after = await client.post("/v1/articles", json=ITEM)
    assert after.status_code == 202 and after.json()["id"] == claim.article_id
    assert [e.article.id for e in sink.events] == [claim.article_id]


async def test_records_expire_after_their_ttl(
    client: httpx.AsyncClient, sink: InMemorySink, clock: Clock
) -> None:
    """Past the TTL a guid is forgotten and a resubmission is a new article."""
    first = await client.post("/v1/articles", json=ITEM)
    clock.now += 3601
    again = await client.post("/v1/articles", json=ITEM)
    assert again.json()["id"] != first.json()["id"] and len(sink.events) == 2


async def test_posted_ninjs_is_idempotent_by_its_uri(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    """A ninjs document (application/ninjs+json) posted twice is one article named by its uri."""
    doc = {
        "uri": "urn:wire:2026:7",
        "headlines": [{"value": "Ferry timetable changes for winter"}],
        "bodies": [{"contentType": "text/html", "value": "<p>Fewer crossings.</p><p>From December.</p>"}],
        "infoSources": [{"name": "Harbour Gazette", "role": "publisher"}],
    }
    headers = {"content-type": "application/ninjs+json"}
    first = await client.post("/v1/articles", content=json.dumps(doc), headers=headers)
    second = await client.post("/v1/articles", content=json.dumps(doc), headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["id"] == first.json()["id"]
    (event,) = sink.events
    assert event.article.format == "ninjs"
    assert event.article.body == ("Fewer crossings.", "From December.")
    assert event.article.source == "Harbour Gazette"
