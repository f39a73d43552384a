"""The whole pipeline: four real service processes over a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from shared.messages import ARTICLES_DUPLICATES, ARTICLES_RECEIVED, ARTICLES_TAGGED, ARTICLES_UNIQUE
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STAGE_STREAMS = (ARTICLES_RECEIVED, ARTICLES_TAGGED, ARTICLES_UNIQUE, ARTICLES_DUPLICATES)
ALL = "newswire:topic:all"


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(redis_url).flushdb()
    running = Stack(redis_url, tmp_path_factory.mktemp("stack")).start()
    try:
        running.wait_ready()
        yield running
    finally:
        codes = running.stop()
        assert all(code == 0 for code in codes.values()), f"unclean exits {codes}\n{running.all_logs()}"


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def _entries_for(client: redis.Redis, stream: str, article_id: str) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in client.xrange(stream) if fields[b"id"] == article_id.encode()]


def _wait_for_status(stack: Stack, article_id: str, wanted: set[str], timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    answer: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack.base_url}/v1/articles/{article_id}")
        answer = response.json()
        if response.status_code == 200 and answer["status"] in wanted:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{article_id} never reached {wanted}: {answer}\n{stack.all_logs()}")


def test_seed_page_is_delivered_once_and_its_repost_is_a_duplicate(stack: Stack, client: redis.Redis) -> None:
    """The seed page reaches newswire:topic:all in German within seconds; posting it again is a
    duplicate of the first and is not delivered a second time."""
    page = (SAMPLES / "01_seed_deutsche_tageszeitung.txt").read_bytes()
    headers = {"content-type": "text/plain; charset=utf-8"}
    started = time.monotonic()
    first = httpx.post(f"{stack.base_url}/v1/articles", content=page, headers=headers)
    assert first.status_code == 202, first.text
    first_id = first.json()["id"]
    _wait_for_status(stack, first_id, {"delivered"}, timeout=10)
    assert time.monotonic() - started < 10
    (entry,) = _entries_for(client, ALL, first_id)
    assert entry[b"event"] == b"article.published"
    article = json.loads(entry[b"article"])
    assert article["language"] == "de"
    assert article["headlines"][0]["value"] == "Putin will bei Besuch in Kasachstan Beziehungen festigen"

    second = httpx.post(f"{stack.base_url}/v1/articles", content=page, headers=headers)
    assert second.status_code == 202
    second_id = second.json()["id"]
    judged = _wait_for_status(stack, second_id, {"duplicate", "delivered"})
    assert judged["status"] == "duplicate"
    assert judged["duplicate_of"] == first_id
    time.sleep(1.0)  # let anything that would wrongly deliver it arrive
    assert _entries_for(client, ALL, second_id) == []
    assert len(_entries_for(client, ALL, first_id)) == 1
    audit = [f for _, f in client.xrange(ARTICLES_DUPLICATES)]
    assert len(audit) == 1


def test_malformed_json_gets_a_problem_and_touches_no_stream(stack: Stack, client: redis.Redis) -> None:
    """A malformed JSON body answers 4xx problem+json and no stage stream grows."""
    before = {stream: client.xlen(stream) for stream in STAGE_STREAMS}
    response = httpx.post(
        f"{stack.base_url}/v1/articles",
        content=b'{"headline": "Half a document", "body": [',
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code
    time.sleep(0.5)
    assert {stream: client.xlen(stream) for stream in STAGE_STREAMS} == before


def test_readiness_reports_every_consumer_service(stack: Stack) -> None:
    """/readyz is 200 and names each consumer service with a running reader and claimer."""
    report = httpx.get(f"{stack.base_url}/readyz").json()
    assert report["ready"] is True and report["redis"] is True
    for service in ("tagger", "dedup", "pusher"):
        (subscribers,) = report["services"][service]["replicas"].values()
        assert subscribers and all(subscribers.values())
