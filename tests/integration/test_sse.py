"""Server-Sent Events of a subscription against the real intake process and a real Redis."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from devstack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def intake(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(redis_url).flushdb()
    running = Stack(redis_url, tmp_path_factory.mktemp("sse")).start(("intake",))
    try:
        running.wait_healthy(30)
        yield running
    finally:
        running.stop()


def _read_events(response: httpx.Response, wanted: int) -> list[dict[str, str]]:
    """Parse SSE frames until ``wanted`` events (comments and pings skipped)."""
    events: list[dict[str, str]] = []
    frame: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in frame:
                events.append(frame)
                if len(events) == wanted:
                    return events
            frame = {}
            continue
        name, _, value = line.partition(":")
        if name:
            frame[name] = value.removeprefix(" ")
    return events


def _add(client: redis.Redis, stream: str, article_id: str) -> str:
    article = json.dumps({"uri": f"urn:newswire:article:{article_id}"})
    fields = {"id": article_id, "event": "article.published", "topic": "live", "article": article}
    return client.xadd(stream, fields).decode()  # type: ignore[union-attr]


def test_events_arrive_live_and_resume_after_a_disconnect_without_gaps(intake: Stack, redis_url: str) -> None:
    """Connected live, two entries written after connecting arrive as events (id = entry id);
    after a disconnect, three entries written meanwhile arrive on reconnect with Last-Event-ID,
    none twice, none missing, in order."""
    client = redis.Redis.from_url(redis_url)
    created = httpx.post(f"{intake.base_url}/v1/subscriptions", json={"name": "live"})
    assert created.status_code == 201, created.text
    stream = created.json()["stream"]
    _add(client, stream, "old")  # before connecting: not part of the live feed
    url = f"{intake.base_url}/v1/subscriptions/live/events"
    written: list[str] = []

    def write_later(ids: list[str]) -> None:
        time.sleep(0.5)
        written.extend(_add(client, stream, article_id) for article_id in ids)

    with httpx.stream("GET", url, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer = threading.Thread(target=write_later, args=(["a1", "a2"],))
        writer.start()
        first = _read_events(response, 2)
        writer.join()
    assert [e["id"] for e in first] == written
    assert [json.loads(e["data"])["uri"][-2:] for e in first] == ["a1", "a2"]
    assert {e["event"] for e in first} == {"article.published"}

    missed = [_add(client, stream, article_id) for article_id in ("b1", "b2", "b3")]
    with httpx.stream("GET", url, headers={"Last-Event-ID": first[-1]["id"]}, timeout=10) as response:
        writer = threading.Thread(target=write_later, args=(["c1"],))
        writer.start()
        resumed = _read_events(response, 4)
        writer.join()
    assert [e["id"] for e in resumed] == [*missed, written[-1]]
    assert [json.loads(e["data"])["uri"][-2:] for e in resumed] == ["b1", "b2", "b3", "c1"]
