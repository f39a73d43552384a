"""Dedup's Redis memory in steady state: per live article, once the index has run for windows.

``bench.scale`` measures memory right after a pre-load: every article live, nothing dead yet. A
running wire also holds what the sweeps have not deleted yet: anchors whose articles left the
window (each anchor hash is swept once a window) and stale sentence counts. This runs the index
on Redis's own clock with a short window, so that record blocks expire and the sweeps run as in
production: synthetic distinct articles (as the scale pre-load's) are indexed and their sentences
counted at ``size`` articles a window for ``windows`` windows; over the last window, Redis's
``used_memory`` is sampled and divided by the articles live at that moment (indexed in the last
window). AOF is on, as in production.

``python -m bench.steady [--size 100000] [--window 90] [--windows 2.5]``
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import statistics
import time
from dataclasses import dataclass

import numpy as np
import redis.asyncio as aioredis

from bench.harness import private_redis
from evaluation.dedup_speed import SYNTHETIC_OUTLETS, SYNTHETIC_SENTENCES, _synthetic
from services.dedup.redis_near import RedisLayout, RedisNearIndex, RedisSentenceFrequency

TICK_S = 0.1  # articles are sent in batches this often
SAMPLE_S = 2.0  # used_memory is read this often over the last window


@dataclass(frozen=True)
class Steady:
    size: int  # articles a window asked for
    window_s: int
    indexed_per_window: float  # articles indexed in the last window (the feeder may fall behind)
    bytes_per_article: list[float]  # used_memory growth / live articles, sampled over the last window
    anchor_hashes: int
    count_hashes: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.bytes_per_article)

    @property
    def peak(self) -> float:
        return max(self.bytes_per_article)


async def _hashes(client: aioredis.Redis, layout: RedisLayout) -> tuple[int, int]:
    """How many hashes the anchor and count families have grown to (2^level + split)."""
    raw = await client.hmget(f"{layout.prefix}meta", ["xl", "xp", "cl", "cp"])
    xl, xp, cl, cp = (int(v) if v is not None else None for v in raw)
    base = layout.shards.bit_length() - 1
    return 2 ** (base if xl is None else xl) + (xp or 0), 2 ** (16 if cl is None else cl) + (cp or 0)


async def run(url: str, size: int, window_s: int, windows: float) -> Steady:
    client = aioredis.Redis.from_url(url, socket_timeout=60)
    layout = RedisLayout(window_seconds=window_s)
    index, frequency = RedisNearIndex(client, layout), RedisSentenceFrequency(client, layout)
    rng = np.random.default_rng(11)
    base = int((await client.info("memory"))["used_memory"])
    rate = size / window_s
    sent_at: list[float] = []  # when each article went in
    samples: list[float] = []
    started = time.monotonic()
    next_sample = started + (windows - 1) * window_s
    try:
        while (now := time.monotonic()) < started + windows * window_s:
            due = int((now - started) * rate) - len(sent_at)
            if due > 0:
                items = _synthetic(due, len(sent_at), rng)
                keys = rng.integers(0, 2**62, size=(due, SYNTHETIC_SENTENCES))
                outlets = [f"outlet-{(len(sent_at) + i) % SYNTHETIC_OUTLETS}" for i in range(due)]
                await index.check_and_insert_many(items)
                await frequency.count_many(
                    [(o, [int(k) for k in row]) for o, row in zip(outlets, keys, strict=True)]
                )
                sent_at += [now] * due
            if now >= next_sample:
                live = len(sent_at) - bisect.bisect_left(sent_at, now - window_s)
                used = int((await client.info("memory"))["used_memory"]) - base
                samples.append(used / max(live, 1))
                next_sample += SAMPLE_S
            await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - now)))
        end = time.monotonic()
        indexed = len(sent_at) - bisect.bisect_left(sent_at, end - window_s)
        anchors, counts = await _hashes(client, layout)
    finally:
        await client.aclose()
    return Steady(size, window_s, indexed, samples, anchors, counts)


@dataclass(frozen=True)
class Plan:
    size: int  # articles a window
    window_s: int
    windows: float  # how long to run, in windows

    @classmethod
    def for_(cls, *, quick: bool, size: int) -> Plan:
        """``size`` a 90-second window for 2.5 windows (~4 min), or a smoke run."""
        return cls(2_000, 5, 2.0) if quick else cls(size, 90, 2.5)


def measure(plan: Plan) -> Steady:
    with private_redis() as server:
        return asyncio.run(run(server.url, plan.size, plan.window_s, plan.windows))


def markdown(steady: Steady) -> str:
    return "## Dedup's memory in steady state\n\n" + (
        f"`bench.steady`: {steady.indexed_per_window:,.0f} articles indexed a window of "
        f"{steady.window_s} s (Redis's clock), after {steady.size:,}-a-window for several windows: "
        f"{steady.mean:,.0f} B of Redis memory per live article on average over the last window, "
        f"{steady.peak:,.0f} B at most ({len(steady.bytes_per_article)} samples); the anchors in "
        f"{steady.anchor_hashes:,} hashes, the sentence counts in {steady.count_hashes:,}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="articles a window")
    parser.add_argument("--window", type=int, default=90, help="the window, seconds")
    parser.add_argument("--windows", type=float, default=2.5, help="how long to run, in windows")
    args = parser.parse_args(argv)
    print(markdown(measure(Plan(args.size, args.window, args.windows))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
