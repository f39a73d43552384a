"""Dedup at scale: the dedup service's throughput with 10,000 vs 100,000 (vs 1,000,000) articles
already in its index, and Redis memory per indexed article.

The index is pre-loaded through the dedup package's own Redis index class (``RedisNearIndex`` with the
layout the service uses) with synthetic fingerprints of distinct articles (random sketches and anchors:
no real text needed, and none of them matches the real articles). Then the same real articles, tagged
in-process and published as the tagger publishes them, are drained by the dedup service alone.

``python -m bench.scale [--quick] [--million]``
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import redis
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from bench.articles import Corpus, Item, batch, load_corpus
from bench.harness import copy_entries, entries, private_redis, services
from bench.stats import Summary, drain_rate, entry_millis
from devstack import wait_for
from evaluation.common import data_dir
from services.dedup.fingerprint import ANCHORS, NUM_PERM, Fingerprint
from services.dedup.redis_near import RedisLayout, RedisNearIndex
from services.intake.normalise import read_input
from services.tagger.service import build_tagger, tag_received
from shared.messages import ARTICLES_DUPLICATES, ARTICLES_TAGGED, ARTICLES_UNIQUE, ArticleReceived
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER

FILL_BATCH = 500


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    articles: int
    runs: int

    @classmethod
    def for_(cls, *, quick: bool, million: bool = False) -> Plan:
        if quick:
            return cls(sizes=(2_000, 10_000), articles=150, runs=1)
        sizes = (10_000, 100_000, 1_000_000) if million else (10_000, 100_000)
        # 1,000 articles a run: with fewer, a drain lasts under a second and the runs scatter by 20%.
        return cls(sizes=sizes, articles=1_000, runs=3)


@dataclass
class Result:
    rates: dict[int, list[float]] = field(default_factory=dict)
    bytes_per_article: dict[int, float] = field(default_factory=dict)
    fill_rate: dict[int, float] = field(default_factory=dict)
    articles: int = 0

    def summary(self, size: int) -> Summary:
        return Summary.of(self.rates.get(size, []))

    def change(self) -> float:
        """Median throughput at the largest index relative to the smallest, minus one (-0.05: 5% slower)."""
        sizes = sorted(self.rates)
        return self.summary(sizes[-1]).median / self.summary(sizes[0]).median - 1


def synthetic(count: int, start: int, rng: np.random.Generator) -> list[tuple[str, Fingerprint]]:
    """Fingerprints of ``count`` distinct made-up articles."""
    sketches = rng.integers(0, 256, size=(count, NUM_PERM), dtype=np.uint8)
    anchors = np.sort(rng.integers(0, 2**32, size=(count, ANCHORS), dtype=np.uint64), axis=1)
    sizes = rng.integers(50, 800, size=count)
    return [
        (
            f"fill-{start + n:08d}-{secrets.token_hex(8)}",
            Fingerprint(
                secrets.token_hex(16), sketches[n].tobytes(), int(sizes[n]), tuple(int(a) for a in anchors[n])
            ),
        )
        for n in range(count)
    ]


async def fill(url: str, count: int, start: int, window_seconds: int) -> None:
    """Index ``count`` synthetic articles where the service's index lives."""
    client = aioredis.Redis.from_url(url)
    index = RedisNearIndex(client, RedisLayout(window_seconds=window_seconds))
    rng = np.random.default_rng(start)
    try:
        for offset in range(0, count, 10_000):
            items = synthetic(min(10_000, count - offset), start + offset, rng)
            for b in range(0, len(items), FILL_BATCH):
                await index.check_and_insert_many(items[b : b + FILL_BATCH])
    finally:
        await client.aclose()


async def publish_tagged(url: str, items: Sequence[Item]) -> None:
    """The dedup service's input, as the tagger publishes it (FastStream, article id header)."""
    tagger = build_tagger(Settings())
    broker = RedisBroker(url)
    await broker.connect()
    try:
        for item in items:
            tagged = tag_received(ArticleReceived(article=read_input("json", item.body)), tagger)
            await broker.publish(
                tagged, stream=ARTICLES_TAGGED, headers={ARTICLE_ID_HEADER: tagged.article.id}
            )
    finally:
        await broker.stop()


def _drain_dedup(url: str, expected: int) -> float:
    client = redis.Redis.from_url(url)
    outputs = (ARTICLES_UNIQUE, ARTICLES_DUPLICATES)

    def total() -> int:
        return sum(int(client.xlen(stream)) for stream in outputs)

    with services(url, ["dedup"]):
        wait_for(lambda: total() >= expected, 60 + expected / 10, f"dedup drained {expected}", 0.05)
    millis = [entry_millis(entry_id) for stream in outputs for entry_id, _ in entries(client, stream)]
    client.close()
    return drain_rate(millis)


def measure(corpus: Corpus, plan: Plan, log: Callable[[str], object] = print) -> Result:
    result = Result(articles=plan.articles)
    window = int(Settings().dedup_window_hours * 3600)
    with private_redis() as server:
        client = redis.Redis.from_url(server.url)
        # Other articles in every run (the same ones again would all be exact duplicates of the last run).
        inputs = []
        for run in range(plan.runs):
            asyncio.run(publish_tagged(server.url, batch(corpus, plan.articles, seed=404 + run)))
            inputs.append(entries(client, ARTICLES_TAGGED))
            client.delete(ARTICLES_TAGGED)
        for size in plan.sizes:
            for tagged in inputs:
                # A fresh pre-load for every run: the real articles a run judged stay in the index,
                # and the next run's articles (made of the same corpus sentences) would find more
                # candidates among them, so runs on one index slow down one after the other.
                client.flushdb()
                base = int(client.info("memory")["used_memory"])
                started = time.perf_counter()
                asyncio.run(fill(server.url, size, 0, window))
                result.fill_rate[size] = size / (time.perf_counter() - started)
                result.bytes_per_article[size] = (int(client.info("memory")["used_memory"]) - base) / size
                copy_entries(client, ARTICLES_TAGGED, tagged)
                result.rates.setdefault(size, []).append(_drain_dedup(server.url, len(tagged)))
                log(f"dedup with {size:,} indexed: {result.rates[size][-1]:,.0f}/s")
        client.close()
    return result


def markdown(result: Result) -> str:
    rows = [
        f"| {size:,} | {result.summary(size).render(0)} | {result.bytes_per_article[size]:,.0f} "
        f"| {result.fill_rate[size]:,.0f} |"
        for size in sorted(result.rates)
    ]
    sizes = sorted(result.rates)
    return "\n".join(
        [
            "## Dedup at scale (index pre-loaded)",
            "",
            f"The dedup service alone drains {result.articles} real tagged articles (other articles in each "
            "run) with the index pre-loaded with synthetic distinct articles through `RedisNearIndex` and "
            "the service's layout. Memory: growth of Redis `used_memory` over the pre-load, divided by the "
            "articles pre-loaded (index records, anchor buckets; per-outlet sentence "
            "counts and story records are not in the pre-load). Median (min-max) of the runs.",
            "",
            "| indexed articles | dedup alone, articles/s | Redis bytes per indexed article "
            "| pre-load, articles/s |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Throughput at {sizes[-1]:,} relative to {sizes[0]:,}: **{result.change():+.1%}**.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small indexes, one run")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 indexed (minutes more)")
    args = parser.parse_args(argv)
    print(markdown(measure(load_corpus(data_dir()), Plan.for_(quick=args.quick, million=args.million))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
