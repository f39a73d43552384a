"""Dedup's Redis memory in steady state: per live article, once the index has run for windows.

``bench.scale`` measures memory right after a pre-load: every article live, nothing dead yet. A
running wire also holds what has not been deleted yet: the anchor tables of this generation and
the last (a table goes whole, when the generation after the next begins), sized from the
generation before, and stale sentence counts that their sweep has not reached. This runs the index
on Redis's own clock with a short window, so that record blocks expire and the sweeps run as in
production: synthetic distinct articles (as the scale pre-load's) are indexed and their sentences
counted at ``size`` articles a window for ``windows`` windows; over the last window, Redis's
``used_memory`` is sampled and divided by the articles live at that moment (indexed in the last
window). AOF is on, as in production.

``python -m bench.steady [--size 100000] [--window 120] [--windows 2.25]``
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import math
import statistics
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass

import numpy as np
import redis.asyncio as aioredis

from bench.harness import private_redis
from evaluation.dedup_redis_cost import index_memory
from evaluation.dedup_speed import SYNTHETIC_OUTLETS, SYNTHETIC_SENTENCES, _synthetic
from services.dedup.fingerprint import Fingerprint
from services.dedup.redis_near import (
    COUNT_HASHES,
    RedisLayout,
    RedisNearIndex,
    RedisSentenceFrequency,
)
from shared.redis_client import redis_client

TICK_S = 0.1  # articles are sent in batches this often
SAMPLE_S = 2.0  # used_memory is read this often over the last window
IN_FLIGHT = 3  # batches sent and not yet answered, at most
# A batch of articles to index, and their sentences (outlet, sentence keys) to count.
Batch = tuple[list[tuple[str, Fingerprint]], list[tuple[str, list[int]]]]


@dataclass(frozen=True)
class Steady:
    size: int  # articles a window asked for
    window_s: int
    indexed_per_window: float  # articles indexed in the last window (the feeder may fall behind)
    bytes_per_article: list[float]  # used_memory growth / live articles, sampled over the last window
    # The samples taken while an AOF rewrite ran, apart: Redis 6.2 then also holds a rewrite buffer
    # of every write since the rewrite began, memory of persistence rather than of the index (as
    # bench.scale, which reads memory with no rewrite running).
    while_rewriting: list[float]
    anchor_buckets: list[int]  # the anchor table's layers, this generation
    last_anchor_buckets: list[int]  # and the last
    count_hashes: int
    # At the end: each kind of the index's keys, bytes per live article (MEMORY USAGE of a sample).
    kinds: dict[str, float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.bytes_per_article) if self.bytes_per_article else math.nan

    @property
    def peak(self) -> float:
        return max(self.bytes_per_article, default=math.nan)

    def rewrites_line(self) -> str:
        """What the samples taken while an AOF rewrite ran read, if there were any."""
        if not self.while_rewriting:
            return "no sample fell in an AOF rewrite"
        return (
            f"{len(self.while_rewriting)} samples taken while an AOF rewrite ran (Redis 6.2 then also holds "
            f"a buffer of the writes since it began) are apart: up to {max(self.while_rewriting):,.0f} B"
        )


async def _shapes(client: aioredis.Redis, layout: RedisLayout) -> tuple[list[int], list[int], int]:
    """The anchor tables' layers (buckets) of this generation and the last, and how many hashes the
    count family has grown to (2^level + split)."""
    this, last, level, split = await client.hmget(f"{layout.prefix}meta", ["az", "ay", "cl", "cp"])
    count_base = COUNT_HASHES.bit_length() - 1

    def sizes(listed: bytes | str | None) -> list[int]:
        text = listed.decode() if isinstance(listed, bytes) else listed or ""
        return [int(size) for size in text.split(",") if size]

    return sizes(this), sizes(last), 2 ** (count_base if level is None else int(level)) + int(split or 0)


def _batch(count: int, start: int, rng: np.random.Generator) -> Batch:
    """``count`` synthetic distinct articles from number ``start`` on, and their sentences."""
    items = _synthetic(count, start, rng)
    keys: list[list[int]] = rng.integers(0, 2**62, size=(count, SYNTHETIC_SENTENCES)).tolist()
    outlets = [f"outlet-{(start + i) % SYNTHETIC_OUTLETS}" for i in range(count)]
    return items, list(zip(outlets, keys, strict=True))


async def run(url: str, size: int, window_s: int, windows: float) -> Steady:
    # The services' client (commands packed by hiredis): redis-py's own packing was a fifth of the
    # feeder's time.
    client = redis_client(url, socket_timeout=60)
    layout = RedisLayout(window_seconds=window_s)
    index, frequency = RedisNearIndex(client, layout), RedisSentenceFrequency(client, layout)
    rng = np.random.default_rng(11)
    base = int((await client.info("memory"))["used_memory"])
    rate = size / window_s
    sent_at: list[float] = []  # when each article went in
    samples: list[float] = []
    while_rewriting: list[float] = []
    started = time.monotonic()
    next_sample = started + (windows - 1) * window_s
    # Up to IN_FLIGHT batches are in Redis while the next one is made and sent: the feeder's own
    # work per article (making it, packing the calls, reading the replies) is about Redis's, and
    # done in turn the two fell behind the rate (66,266 of 100,000 a window in one run).
    in_flight: deque[Awaitable[object]] = deque()
    try:
        while (now := time.monotonic()) < started + windows * window_s:
            due = int((now - started) * rate) - len(sent_at)
            if due > 0:
                items, sentences = _batch(due, len(sent_at), rng)
                while len(in_flight) >= IN_FLIGHT:
                    await in_flight.popleft()
                in_flight.append(
                    asyncio.gather(index.check_and_insert_many(items), frequency.count_many(sentences))
                )
                sent_at += [now] * due
            if now >= next_sample:
                live = len(sent_at) - bisect.bisect_left(sent_at, now - window_s)
                used = int((await client.info("memory"))["used_memory"]) - base
                rewriting = int((await client.info("persistence"))["aof_rewrite_in_progress"])
                (while_rewriting if rewriting else samples).append(used / max(live, 1))
                next_sample += SAMPLE_S
            await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - now)))
        while in_flight:
            await in_flight.popleft()
        end = time.monotonic()
        indexed = len(sent_at) - bisect.bisect_left(sent_at, end - window_s)
        anchors, last_anchors, counts = await _shapes(client, layout)
        kinds = (await index_memory(client, layout, indexed, base)).kinds
    finally:
        await client.aclose()
    return Steady(size, window_s, indexed, samples, while_rewriting, anchors, last_anchors, counts, kinds)


@dataclass(frozen=True)
class Plan:
    size: int  # articles a window
    window_s: int
    windows: float  # how long to run, in windows

    @classmethod
    def for_(cls, *, quick: bool, size: int) -> Plan:
        """``size`` a 120-second window for 2.25 windows (~4.5 min), or a smoke run.

        120 s: at 100,000 a 90-second window (1,111 articles/s) Redis ran the index's and the
        counts' scripts at ~95% of a core and the feeder reached ~95,000 a window at best (measured
        on this project's 2-core host); at 833/s it keeps up. From the second window on, articles
        leave the window as fast as they enter it, as in a wire that has run for days.
        """
        return cls(2_000, 5, 2.0) if quick else cls(size, 120, 2.25)


def measure(plan: Plan) -> Steady:
    with private_redis() as server:
        return asyncio.run(run(server.url, plan.size, plan.window_s, plan.windows))


def markdown(steady: Steady) -> str:
    return "## Dedup's memory in steady state\n\n" + (
        f"`bench.steady`: {steady.indexed_per_window:,.0f} articles indexed a window of "
        f"{steady.window_s} s (Redis's clock), after {steady.size:,}-a-window for several windows: "
        f"{steady.mean:,.0f} B of Redis memory per live article on average over the last window, "
        f"{steady.peak:,.0f} B at most ({len(steady.bytes_per_article)} samples; "
        f"{steady.rewrites_line()}); the anchors in tables of {_buckets(steady.anchor_buckets)} "
        f"(this generation) and {_buckets(steady.last_anchor_buckets)} (the last), the sentence "
        f"counts in {steady.count_hashes:,} hashes. At the end, by kind of key (estimated from a sample of "
        "each): " + ", ".join(f"{kind} {per:,.0f} B" for kind, per in steady.kinds.items()) + "."
    )


def _buckets(layers: list[int]) -> str:
    """A table's layers, as buckets (64 bytes each)."""
    return " + ".join(f"{size:,}" for size in layers) + " buckets" if layers else "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="articles a window")
    parser.add_argument("--window", type=int, default=120, help="the window, seconds")
    parser.add_argument("--windows", type=float, default=2.25, help="how long to run, in windows")
    args = parser.parse_args(argv)
    print(markdown(measure(Plan(args.size, args.window, args.windows))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
