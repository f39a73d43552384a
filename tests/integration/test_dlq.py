"""`newswire dlq` against a real Redis: list, show, replay through a running stage, drop."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from services.dedup import service as dedup_service
from services.ops import dlq
from shared.deadletter import DeadLetter, RedisDeadLetters
from shared.messages import ARTICLES_TAGGED, ARTICLES_UNIQUE, ArticleTagged, dead_letter_stream
from shared.settings import Settings
from shared.stage import make_broker
from tests import factories

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


async def _letter(client: aioredis.Redis, article_id: str) -> None:
    """A dead letter as the dedup stage writes one, with a real ArticleTagged payload."""
    event = ArticleTagged(
        article=factories.article(article_id, headline=f"Story {article_id}"), tags=factories.tags()
    )
    await RedisDeadLetters(client).put(
        DeadLetter("dedup", ARTICLES_TAGGED, "1-1", article_id, "ValueError: cannot index", 5,
                   event.model_dump_json().encode(), time.time())
    )  # fmt: skip


def _cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSWIRE_REDIS_URL": redis_url, "NEWSWIRE_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "dlq", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_replayed_letter_is_processed_by_the_stage_and_removed(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """Replay publishes the payload to the stage's input stream with the article id header; the running
    stage decodes and processes it (articles.unique grows by one) and the dead letter is gone."""
    await _letter(redis_client, "lazarus")
    settings = Settings(redis_url=redis_url, poll_interval_ms=50)
    app = dedup_service.create_app(settings)
    async with asyncio.timeout(90):  # a hang fails here with a traceback instead of stalling the suite
        await app.start()
        try:
            broker = make_broker(settings)
            await broker.connect()
            try:
                publisher = dlq.BrokerRepublisher(broker)
                replayed = await dlq.replay(redis_client, publisher, "dedup", [], every=True)
            finally:
                await broker.stop()
            for _ in range(200):  # up to 10 s
                if await redis_client.xlen(ARTICLES_UNIQUE) >= 1:
                    break
                await asyncio.sleep(0.05)
        finally:
            await app.stop()
    assert [letter.article_id for letter in replayed] == ["lazarus"]
    assert await redis_client.xlen(dead_letter_stream("dedup")) == 0
    ((_, fields),) = await redis_client.xrange(ARTICLES_UNIQUE)
    assert b"lazarus" in fields[b"__data__"]


async def test_cli_lists_shows_and_drops_letters(redis_client: aioredis.Redis, redis_url: str) -> None:
    """`dlq list --json` names each letter with its article and error, `show` gives the payload as
    JSON, `drop` deletes only the named letter, and an unknown id is an error, not a crash."""
    await _letter(redis_client, "first")
    await _letter(redis_client, "second")
    listed = _cli(redis_url, "list", "dedup", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = json.loads(listed.stdout)
    assert [(row["article_id"], row["error"]) for row in letters] == [
        ("first", "ValueError: cannot index"),
        ("second", "ValueError: cannot index"),
    ]
    shown = json.loads(_cli(redis_url, "show", "dedup", letters[0]["id"]).stdout)
    assert shown["payload"]["article"]["id"] == "first" and shown["stream"] == ARTICLES_TAGGED
    dropped = _cli(redis_url, "drop", "dedup", letters[0]["id"])
    assert dropped.returncode == 0, dropped.stderr
    remaining = await redis_client.xrange(dead_letter_stream("dedup"))
    assert [fields[b"article_id"] for _, fields in remaining] == [b"second"]
    unknown = _cli(redis_url, "drop", "dedup", "1-999")
    assert unknown.returncode == 1 and "no dead letter" in unknown.stderr
