"""Graceful shutdown of a real consumer process: SIGTERM mid-load exits 0 within the grace period and
leaves nothing stranded: what it held is either acknowledged or handed back, claimable at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from shared.messages import ARTICLES_RECEIVED, ARTICLES_TAGGED, ArticleReceived
from shared.stage import ARTICLE_ID_HEADER, RELEASED_CONSUMER
from tests import factories

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTICLES = 300
GRACE_S = 5.0


def _tagger(redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEWSWIRE_REDIS_URL": redis_url,
        "NEWSWIRE_LOG_FORMAT": "json",
        "NEWSWIRE_SHUTDOWN_GRACE_S": str(GRACE_S),
        "NEWSWIRE_CLAIM_IDLE_MS": "60000",  # only a hand-back makes entries claimable within the test
        "NEWSWIRE_POLL_INTERVAL_MS": "50",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "tagger"], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )


async def _wait_for(client: aioredis.Redis, stream: str, at_least: int, seconds: float) -> int:
    length = 0
    for _ in range(int(seconds / 0.05)):
        length = await client.xlen(stream)
        if length >= at_least:
            break
        await asyncio.sleep(0.05)
    return length


async def test_sigterm_mid_load_exits_cleanly_and_strands_nothing(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """SIGTERM while the tagger works through a backlog: exit code 0 within the grace period, no entry
    left pending under its consumer names (they are removed), and a second tagger finishes the rest."""
    async with RedisBroker(redis_url) as broker:
        for n in range(ARTICLES):
            article = factories.article(f"a{n}", headline=f"Meldung Nummer {n} aus Berlin")
            await broker.publish(
                ArticleReceived(article=article),
                stream=ARTICLES_RECEIVED,
                headers={ARTICLE_ID_HEADER: f"a{n}"},
            )
    first = _tagger(redis_url, tmp_path / "first.log")
    try:
        assert await _wait_for(redis_client, ARTICLES_TAGGED, 20, seconds=60) >= 20, (
            tmp_path / "first.log"
        ).read_text()
        first.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        code = await asyncio.to_thread(first.wait, GRACE_S + 10)
        took = time.monotonic() - stopped_at
    finally:
        if first.poll() is None:
            first.kill()
    log = (tmp_path / "first.log").read_text()
    assert code == 0, log[-3000:]
    assert '"messages.released"' in log, "it held nothing when stopped: the test proves nothing"
    assert took < GRACE_S + 5, took
    consumers = {c["name"].decode() for c in await redis_client.xinfo_consumers(ARTICLES_RECEIVED, "tagger")}
    assert consumers <= {RELEASED_CONSUMER}, consumers
    tagged_before = await redis_client.xlen(ARTICLES_TAGGED)
    assert tagged_before < ARTICLES, "the load finished before the signal: the test proves nothing"

    second = _tagger(redis_url, tmp_path / "second.log")
    try:
        await _wait_for(redis_client, ARTICLES_TAGGED, ARTICLES, seconds=90)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, GRACE_S + 10)
    tagged = [fields for _, fields in await redis_client.xrange(ARTICLES_TAGGED)]
    assert len(tagged) >= ARTICLES, (tmp_path / "second.log").read_text()[-3000:]
    assert (await redis_client.xpending(ARTICLES_RECEIVED, "tagger"))["pending"] == 0
