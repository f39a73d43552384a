"""The whole pipeline: four real service processes over a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from devstack import Stack
from shared.messages import ARTICLES_DUPLICATES, ARTICLES_RECEIVED, ARTICLES_TAGGED, ARTICLES_UNIQUE
from tests.integration.stack import running_stack

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STAGE_STREAMS = (ARTICLES_RECEIVED, ARTICLES_TAGGED, ARTICLES_UNIQUE, ARTICLES_DUPLICATES)
ALL = "newswire:topic:all"


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(redis_url, tmp_path_factory.mktemp("stack")) as running:
        yield running


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


def _near_copy(page: str) -> str:
    """The republished page under a third outlet and byline, two words changed, its body cut to 70 %."""
    page = page.replace("Rheinischer Kurier", "Märkische Abendpost").replace(
        "(K.Lindqvist--RHK)", "(P.Novak--MAP)"
    )
    page = page.replace("eingetroffen", "angekommen", 1).replace("am Mittwoch", "am Dienstag", 1)
    lines = page.split("\n")
    byline = lines.index("(P.Novak--MAP)")
    body = [n for n, line in enumerate(lines[:byline]) if len(line) > 120]
    budget = 0.7 * sum(len(lines[n]) for n in body)
    kept = 0
    for n in body:
        kept += len(lines[n])
        if kept > budget:
            lines[n] = ""
    return "\n".join(lines)


def _ninjs_story(document: dict) -> str:
    (story,) = [alt["value"] for alt in document["altIds"] if alt["role"] == "newswire-story"]
    return story


def test_republished_and_cut_copies_of_the_seed_are_duplicates_of_its_story(
    stack: Stack, client: redis.Redis
) -> None:
    """The seed page, its republication under another outlet, byline and teaser block, and a near
    copy of that (a third outlet, two words changed, cut to 70 %): both copies are duplicates of the
    story's first article, carry its story id (status and ninjs) and are never delivered."""
    headers = {"content-type": "text/plain; charset=utf-8"}
    seed_page = (SAMPLES / "01_seed_deutsche_tageszeitung.txt").read_text(encoding="utf-8")
    republished = (SAMPLES / "02_seed_republished_rheinischer_kurier.txt").read_text(encoding="utf-8")
    near = _near_copy(republished)
    assert "angekommen" in near and len(near) < 0.9 * len(republished)
    seed_id = httpx.post(f"{stack.base_url}/v1/articles", content=seed_page.encode(), headers=headers).json()[
        "id"
    ]
    # The seed may already be a duplicate of an earlier test's post: its story's first article counts.
    story_id = _wait_for_status(stack, seed_id, {"duplicate", "delivered"})["story_id"]
    for page in (republished, near):
        response = httpx.post(f"{stack.base_url}/v1/articles", content=page.encode(), headers=headers)
        assert response.status_code == 202, response.text
        copy_id = response.json()["id"]
        judged = _wait_for_status(stack, copy_id, {"unique", "update", "duplicate", "delivered"})
        assert (judged["status"], judged["duplicate_of"], judged["story_id"]) == (
            "duplicate",
            story_id,
            story_id,
        )
        assert _ninjs_story(judged["article"]) == story_id
        assert _entries_for(client, ALL, copy_id) == []


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
