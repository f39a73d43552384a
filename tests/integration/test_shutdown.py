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
ARTICLES = 1500
GRACE_S = 5.0


def _tagger(redis_url: str, log: Path, grace_s: float = GRACE_S, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **extra,
        "NEWSWIRE_REDIS_URL": redis_url,
        "NEWSWIRE_LOG_FORMAT": "json",
        "NEWSWIRE_SHUTDOWN_GRACE_S": str(grace_s),
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


async def _backlog(redis_url: str) -> None:
    async with RedisBroker(redis_url) as broker:
        for n in range(ARTICLES):
            article = factories.article(f"a{n}", headline=f"Meldung Nummer {n} aus Berlin")
            await broker.publish(
                ArticleReceived(article=article),
                stream=ARTICLES_RECEIVED,
                headers={ARTICLE_ID_HEADER: f"a{n}"},
            )


async def _stop(process: subprocess.Popen[bytes], grace_s: float) -> tuple[int, float]:
    """SIGTERM, then the exit code and how long the exit took."""
    try:
        process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        code = await asyncio.to_thread(process.wait, grace_s + 10)
        return code, time.monotonic() - stopped_at
    finally:
        if process.poll() is None:
            process.kill()


async def _second_tagger_finishes(redis_client: aioredis.Redis, redis_url: str, tmp_path: Path) -> None:
    """Whatever the first tagger left, a second one tags: every article, nothing left pending."""
    second = _tagger(redis_url, tmp_path / "second.log")
    try:
        await _wait_for(redis_client, ARTICLES_TAGGED, ARTICLES, seconds=90)
    finally:
        await _stop(second, GRACE_S)
    tagged = [fields for _, fields in await redis_client.xrange(ARTICLES_TAGGED)]
    assert len(tagged) >= ARTICLES, (tmp_path / "second.log").read_text()[-3000:]
    assert (await redis_client.xpending(ARTICLES_RECEIVED, "tagger"))["pending"] == 0


async def _consumer_names(redis_client: aioredis.Redis) -> set[str]:
    return {c["name"].decode() for c in await redis_client.xinfo_consumers(ARTICLES_RECEIVED, "tagger")}


async def test_sigterm_mid_load_finishes_what_it_holds_and_exits(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """SIGTERM while the tagger works through a backlog: it stops reading, finishes the batch it holds,
    exits 0 within the grace period, removes its consumer names, and a second tagger does the rest."""
    await _backlog(redis_url)
    first = _tagger(redis_url, tmp_path / "first.log")
    log_path = tmp_path / "first.log"
    assert await _wait_for(redis_client, ARTICLES_TAGGED, 20, seconds=60) >= 20, log_path.read_text()
    code, took = await _stop(first, GRACE_S)
    assert code == 0, log_path.read_text()[-3000:]
    assert took < GRACE_S + 5, took
    assert await _consumer_names(redis_client) <= {RELEASED_CONSUMER}
    assert await redis_client.xlen(ARTICLES_TAGGED) < ARTICLES, "the load finished first: proves nothing"
    await _second_tagger_finishes(redis_client, redis_url, tmp_path)


async def test_a_batch_cut_off_by_the_grace_period_is_handed_back(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """A batch that cannot finish within the grace period (all the entries in one read, a grace of
    0.1 s) is handed back to the group on exit, claimable at once, and a second tagger tags it all."""
    await _backlog(redis_url)
    grace_s = 0.1
    first = _tagger(redis_url, tmp_path / "first.log", grace_s, NEWSWIRE_READ_BATCH=str(ARTICLES))
    log_path = tmp_path / "first.log"
    for _ in range(1200):  # until the tagger holds the batch
        groups = await redis_client.xinfo_groups(ARTICLES_RECEIVED)
        if any(group["pending"] for group in groups):
            break
        await asyncio.sleep(0.05)
    code, took = await _stop(first, grace_s)
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert '"messages.released"' in log, log[-3000:]
    assert took < grace_s + 5, took
    assert await _consumer_names(redis_client) <= {RELEASED_CONSUMER}
    await _second_tagger_finishes(redis_client, redis_url, tmp_path)
