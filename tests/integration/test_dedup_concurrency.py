"""Two real dedup processes sharing one Redis index: copies of a story seen at the same moment by
both replicas are never both unique."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from devstack import REPO_ROOT, ServiceProcess
from shared.health import read_heartbeats
from shared.messages import ARTICLES_DUPLICATES, ARTICLES_TAGGED, ARTICLES_UNIQUE, ArticleTagged
from shared.stage import ARTICLE_ID_HEADER
from shared.status import RedisStatusStore
from tests import factories
from tests.story_texts import story_article

pytestmark = pytest.mark.integration

STORIES = 6
COPIES = 8  # per story, each from its own outlet
REPLICAS = 2


def _copies() -> list[ArticleTagged]:
    """Every story in COPIES variants (whole, cut to 90/70/50 %, a word changed), shuffled."""
    events = []
    for story in range(STORIES):
        for copy in range(COPIES):
            article = story_article(
                f"s{story}-c{copy}", 100 + story, keep=(1.0, 0.9, 0.7, 0.5)[copy % 4], source=f"Outlet {copy}"
            )
            if copy >= 4:  # a light edit on top: one word of the first sentence changed
                first, *rest = article.body
                article = article.model_copy(update={"body": ("Geändert " + first, *rest)})
            events.append(ArticleTagged(article=article, tags=factories.tags()))
    random.Random(5).shuffle(events)
    return events


async def _wait_for(predicate: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]  # an async callable
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached within {within} s")


async def test_two_replicas_judge_each_story_unique_exactly_once(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Many copies of several stories published at once to two dedup processes: every story has
    exactly one unique article, every other copy is a duplicate of it, both replicas did part of the
    work, and `newswire story` lists the story with every outlet."""
    env = {
        **os.environ,
        "NEWSWIRE_REDIS_URL": redis_url,
        "NEWSWIRE_LOG_FORMAT": "json",
        "NEWSWIRE_READ_BATCH": "3",  # small reads: the replicas take turns on the burst
        "NEWSWIRE_POLL_INTERVAL_MS": "20",
        "NEWSWIRE_HEARTBEAT_INTERVAL_S": "0.3",
        "PYTHONUNBUFFERED": "1",
    }
    replicas = [ServiceProcess("dedup", env, tmp_path / f"dedup-{n}.log") for n in range(REPLICAS)]
    for replica in replicas:
        replica.start()
    try:

        async def both_ready() -> bool:
            beats = [b for b in await read_heartbeats(redis_client) if b.service == "dedup" and b.ready]
            return len(beats) == REPLICAS

        await _wait_for(both_ready, 60, "two ready dedup replicas")
        events = _copies()
        async with RedisBroker(redis_url) as broker:
            await asyncio.gather(
                *(
                    broker.publish(e, stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: e.article.id})
                    for e in events
                )
            )

        async def all_judged() -> bool:
            judged = await redis_client.xlen(ARTICLES_UNIQUE) + await redis_client.xlen(ARTICLES_DUPLICATES)
            return judged >= len(events)

        await _wait_for(all_judged, 60, "every copy judged")
        status = RedisStatusStore(redis_client, ttl_seconds=60)
        verdicts = {e.article.id: await status.get(e.article.id) for e in events}
    finally:
        codes = [replica.stop() for replica in replicas]
    assert codes == [0] * REPLICAS, "\n".join(r.logs()[-3000:] for r in replicas)

    by_story: dict[str, Counter[str]] = defaultdict(Counter)
    firsts: dict[str, str] = {}
    for article_id, record in verdicts.items():
        assert record is not None, article_id
        story = article_id.split("-")[0]
        by_story[story][record.status] += 1
        if record.status == "unique":
            firsts[story] = article_id
    assert {story: dict(counts) for story, counts in by_story.items()} == {
        f"s{n}": {"unique": 1, "duplicate": COPIES - 1} for n in range(STORIES)
    }
    for article_id, record in verdicts.items():
        first = firsts[article_id.split("-")[0]]
        assert record is not None and record.fields["story_id"] == first
        assert record.fields.get("duplicate_of", first) == first
    assert await redis_client.xlen(ARTICLES_UNIQUE) == STORIES
    assert await redis_client.xlen(ARTICLES_DUPLICATES) == STORIES * (COPIES - 1)
    worked = [r.logs().count('"message.processed"') for r in replicas]
    assert all(count > 0 for count in worked), f"one replica did everything: {worked}"

    listed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "story", "s0-c3", "--json",
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(listed.communicate(), timeout=60)
    assert listed.returncode == 0, err.decode()
    story = json.loads(out)
    assert story["story_id"] == firsts["s0"]
    assert sorted(a["source"] for a in story["articles"]) == [f"Outlet {n}" for n in range(COPIES)]
    assert Counter(a["verdict"] for a in story["articles"]) == {"unique": 1, "duplicate": COPIES - 1}
