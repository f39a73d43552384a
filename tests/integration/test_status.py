"""`newswire status` against a real Redis: stream lengths, derived lag, pending, consumers, dead letters,
readiness, and trimming that never deletes what a group still needs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from services.dedup import service as dedup_service
from services.ops.status import collect
from shared.embedded_redis import free_port
from shared.health import HeartbeatReporter
from shared.messages import ARTICLES_TAGGED, ArticleTagged, dead_letter_stream
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER
from shared.streams import StreamInspector, safe_trim_id
from shared.subscriptions import RedisSubscriptionStore, Subscription, webhook_keys
from tests import factories
from tests.story_texts import story_article

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


async def _stream_with_lag_and_pending(client: aioredis.Redis) -> list[bytes]:
    """Ten entries; group dedup read four (consumer dedup-a), acknowledged one: lag 6, pending 3."""
    ids = [await client.xadd(ARTICLES_TAGGED, {"n": str(n)}) for n in range(10)]
    await client.xgroup_create(ARTICLES_TAGGED, "dedup", id="0")
    await client.xreadgroup("dedup", "dedup-a", {ARTICLES_TAGGED: ">"}, count=4)
    await client.xack(ARTICLES_TAGGED, "dedup", ids[0])
    return ids


async def test_status_reports_length_derived_lag_pending_consumers_and_dead_letters(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """The report carries the stream length, the lag counted after last-delivered-id (Redis 6.2 has
    no lag field), the pending count, each consumer with its held entries, and dead-letter counts."""
    await _stream_with_lag_and_pending(redis_client)
    await redis_client.xadd(dead_letter_stream("dedup"), {"stage": "dedup", "error": "boom"})
    report = await collect(redis_url, None)
    (tagged,) = [stage for stage in report["stages"] if stage["stream"] == ARTICLES_TAGGED]
    assert tagged["length"] == 10
    (group,) = tagged["groups"]
    assert (group["name"], group["lag"], group["lag_capped"], group["pending"]) == ("dedup", 6, False, 3)
    (consumer,) = group["consumers"]
    assert consumer["name"] == "dedup-a" and consumer["pending"] == 3 and consumer["idle_s"] >= 0
    assert report["dead_letters"] == {"tagger": 0, "dedup": 1, "pusher": 0, "webhooks": 0}
    assert report["ready"] is False  # no service reports a heartbeat


async def test_status_reports_each_subscriptions_delivery_health(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """Every subscription is listed with its stream; a webhook endpoint failing since a time shows it."""
    store = RedisSubscriptionStore(redis_client)
    for name, delivery in (
        ("wire", {"kind": "stream"}),
        ("hook", {"kind": "webhook", "url": "https://h.example/x"}),
    ):
        subscription = Subscription.model_validate({"name": name, "filter": {}, "delivery": delivery})
        await store.create(subscription)
    await redis_client.xadd("newswire:sub:hook", {"id": "a1"})
    await redis_client.hset(webhook_keys("hook")["endpoint"], "failing_since", "1.0")
    report = await collect(redis_url, None)
    by_name = {sub["name"]: sub for sub in report["subscriptions"]}
    assert by_name["wire"]["healthy"] is True and by_name["wire"]["delivery"] == "stream"
    hook = by_name["hook"]
    assert (hook["healthy"], hook["length"], hook["disabled"]) == (False, 1, False)
    assert hook["failing_for_s"] > 0


async def test_lag_count_is_capped(redis_client: aioredis.Redis) -> None:
    """A lag larger than the cap is reported as the cap and marked capped, so status stays cheap."""
    await _stream_with_lag_and_pending(redis_client)
    (group,) = (await StreamInspector(redis_client, lag_cap=4).stats(ARTICLES_TAGGED)).groups
    assert (group.lag, group.lag_capped) == (4, True)


async def test_status_readiness_comes_from_heartbeats(redis_client: aioredis.Redis, redis_url: str) -> None:
    """A service whose replica reports all subscribers running is ready; one that reports none is not."""
    for service, running in (("tagger", True), ("dedup", True), ("pusher", False)):
        reporter = HeartbeatReporter(redis_client, service, f"{service}-1", lambda r=running: {"s": r}, 5)
        await reporter.beat()
    report = await collect(redis_url, None)
    assert {name: entry["ready"] for name, entry in report["services"].items()} == {
        "tagger": True,
        "dedup": True,
        "pusher": False,
    }
    assert report["services"]["tagger"]["replicas"]["tagger-1"]["heartbeat_age_s"] < 5


async def test_trim_keeps_everything_a_group_still_holds_or_has_not_read(
    redis_client: aioredis.Redis,
) -> None:
    """Trimming to the safe MINID deletes only the acknowledged entry before the oldest pending one."""
    ids = await _stream_with_lag_and_pending(redis_client)
    inspector = StreamInspector(redis_client)
    now_floor = f"{int(time.time() * 1000) + 60_000}-0"  # retention 0: only the groups hold entries
    min_id = safe_trim_id(await inspector.stats(ARTICLES_TAGGED), age_floor_id=now_floor)
    assert min_id == ids[1].decode()
    assert await inspector.trim(ARTICLES_TAGGED, min_id) == 1
    pending = await redis_client.xpending_range(ARTICLES_TAGGED, "dedup", min="-", max="+", count=10)
    kept = {entry_id for entry_id, _ in await redis_client.xrange(ARTICLES_TAGGED)}
    assert {entry["message_id"] for entry in pending} <= kept
    assert len(kept) == 9


def test_status_command_prints_json_and_a_table(redis_url: str) -> None:
    """`newswire status --json` prints one JSON document and exits 1 while no service is ready;
    the default output is a table naming every stage stream."""
    env = {**os.environ, "NEWSWIRE_REDIS_URL": redis_url, "NEWSWIRE_HTTP_PORT": "9"}
    run = [sys.executable, "-m", "services.cli", "status"]
    as_json = subprocess.run([*run, "--json"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60)
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["intake"]["live"] is False
    table = subprocess.run(run, cwd=REPO_ROOT, env=env, capture_output=True, timeout=60, text=True)
    for stream in ("articles.received", "articles.tagged", "articles.unique", "articles.duplicates"):
        assert stream in table.stdout


async def test_consumer_serves_metrics_counts_messages_and_trims_what_is_done(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """A consumer with NEWSWIRE_METRICS_PORT set serves /metrics on base + its offset: processed
    messages by outcome, processing time and article age histograms, group lag and pending; and its
    retention task trims the entries its group acknowledged, counting them."""
    port = free_port()
    settings = Settings(
        redis_url=redis_url, metrics_port=port - 2, poll_interval_ms=50, stats_interval_s=0.1,
        stage_retention_hours=0, trim_interval_s=0.2,
    )  # fmt: skip
    app = dedup_service.create_app(settings)
    async with asyncio.timeout(90):  # a hang fails with a traceback instead of stalling the suite
        await app.start()
        try:
            async with RedisBroker(redis_url) as broker:
                for n in range(3):
                    event = ArticleTagged(article=story_article(f"m{n}", n), tags=factories.tags())
                    await broker.publish(event, stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: f"m{n}"})
            text = ""
            for _ in range(100):
                text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
                if 'newswire_stream_trimmed_entries_total{stream="articles.tagged"} 3.0' in text:
                    break
                await asyncio.sleep(0.1)
        finally:
            await app.stop()
    assert 'newswire_messages_processed_total{outcome="unique",stage="dedup"} 3.0' in text
    assert 'newswire_processing_seconds_count{stage="dedup"} 3.0' in text
    assert 'newswire_article_age_seconds_count{stage="dedup"} 3.0' in text
    assert 'newswire_group_pending{group="dedup",stream="articles.tagged"} 0.0' in text
    assert 'newswire_group_lag{group="dedup",stream="articles.tagged"}' in text
    assert 'newswire_stream_trimmed_entries_total{stream="articles.tagged"} 3.0' in text
    assert await redis_client.xlen(ARTICLES_TAGGED) == 0


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback test URL)
        return response.read().decode()
