"""Intake under overload: a bound on submissions in flight, a designed 503 at once past it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from services.intake.app import InMemorySink, create_app
from shared.messages import ArticleReceived
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.service

ITEM = {"headline": "Ferry timetable changes", "body": "Fewer crossings at night."}


class GatedSink(InMemorySink):
    """Holds every submission until the test opens the gate: requests stay in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def submit(self, event: ArticleReceived) -> None:
        self.waiting += 1
        await self.gate.wait()
        await super().submit(event)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def test_past_the_bound_a_submission_gets_503_at_once_and_the_held_ones_complete() -> None:
    """Two submissions held in flight with a bound of 2: the third is a 503 problem with
    Retry-After; the two held ones are then accepted, and the next submission is accepted too."""
    sink = GatedSink()
    app = create_app(Settings(intake_max_in_flight=2), sink=sink, status=InMemoryStatusStore())
    async with client(app) as http:
        held = [asyncio.create_task(http.post("/v1/articles", json=ITEM)) for _ in range(2)]
        await until(lambda: sink.waiting == 2)
        shed = await http.post("/v1/articles", json=ITEM)
        sink.gate.set()
        answers = await asyncio.gather(*held)
        after = await http.post("/v1/articles", json=ITEM)
        metrics = (await http.get("/metrics")).text
    assert shed.status_code == 503
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.headers["retry-after"] == "1"
    problem = shed.json()
    assert (problem["type"].rsplit("/", 1)[1], problem["status"]) == ("overloaded", 503)
    assert [answer.status_code for answer in answers] == [202, 202]
    assert after.status_code == 202
    assert len(sink.events) == 3  # the shed submission published nothing
    assert 'newswire_intake_rejected_total{reason="overloaded"} 1.0' in metrics


async def test_a_shed_submission_is_answered_before_its_body_is_read() -> None:
    """Over the bound, intake answers without asking for the body at all."""
    sink = GatedSink()
    app = create_app(Settings(intake_max_in_flight=1), sink=sink, status=InMemoryStatusStore())
    async with client(app) as http:
        held = asyncio.create_task(http.post("/v1/articles", json=ITEM))
        await until(lambda: sink.waiting == 1)
        body_reads = 0

        async def receive() -> dict[str, Any]:
            nonlocal body_reads
            body_reads += 1
            return {"type": "http.request", "body": json.dumps(ITEM).encode(), "more_body": False}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/v1/articles", "raw_path": b"/v1/articles", "query_string": b"",
            "root_path": "", "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 5000), "server": ("intake", 80), "state": {},
        }  # fmt: skip
        await app(scope, receive, send)
        sink.gate.set()
        assert (await held).status_code == 202
    assert body_reads == 0
    assert sent[0]["status"] == 503


async def test_failed_submissions_free_their_place() -> None:
    """Rejected and failing submissions leave the bound: after many of them (bound 2), a valid
    submission is still accepted."""
    sink = InMemorySink()
    app = create_app(Settings(intake_max_in_flight=2), sink=sink, status=InMemoryStatusStore())
    json_type = {"content-type": "application/json"}
    async with client(app) as http:
        for body in (b"{", b"[]", b"", b'{"headline": "only"}'):
            answer = await http.post("/v1/articles", content=body, headers=json_type)
            assert answer.status_code in (400, 422)
        accepted = await http.post("/v1/articles", json=ITEM)
    assert accepted.status_code == 202


async def test_other_routes_answer_while_submissions_are_shed() -> None:
    """With every submission place taken, health, metrics and reads still answer."""
    sink = GatedSink()
    app = create_app(Settings(intake_max_in_flight=1), sink=sink, status=InMemoryStatusStore())
    async with client(app) as http:
        held = asyncio.create_task(http.post("/v1/articles", json=ITEM))
        await until(lambda: sink.waiting == 1)
        health = await http.get("/healthz")
        unknown = await http.get("/v1/articles/01UNKNOWN")
        sink.gate.set()
        await held
    assert (health.status_code, unknown.status_code) == (200, 404)
