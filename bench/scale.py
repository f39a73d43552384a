"""Dedup at scale: the dedup service's throughput with 10,000 vs 100,000 (vs 1,000,000) articles
already in its index, and Redis memory per indexed article.

Redis is pre-loaded with the steady state of a wire that indexes N articles a window: the index,
through the dedup package's own Redis classes with the layout the service uses, and the per-outlet
sentence counts of three generations (``evaluation.dedup_redis_cost.preload``), from synthetic
fingerprints of distinct articles (random sketches, anchors and sentence keys: no real text needed,
and none of them matches the real articles). Then the same real articles, tagged in-process and
published as the tagger publishes them, are drained by the dedup service alone.

``python -m bench.scale [--quick] [--million] [--runs N]``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import redis
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from bench.articles import Corpus, Item, batch, load_corpus
from bench.harness import copy_entries, entries, private_redis, services
from bench.stats import Summary, drain_rate, entry_millis
from devstack import wait_for
from evaluation.common import data_dir
from evaluation.dedup_redis_cost import preload
from services.dedup.redis_near import RedisLayout
from services.intake.normalise import read_input
from services.tagger.service import build_tagger, tag_received
from shared.messages import ARTICLES_DUPLICATES, ARTICLES_TAGGED, ARTICLES_UNIQUE, ArticleReceived
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER


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
    bytes_per_article: dict[int, list[float]] = field(default_factory=dict)
    fill_rate: dict[int, float] = field(default_factory=dict)
    articles: int = 0

    def summary(self, size: int) -> Summary:
        return Summary.of(self.rates.get(size, []))

    def memory(self, size: int) -> float:
        """Median Redis bytes per indexed article over the runs' pre-loads of ``size``."""
        return Summary.of(self.bytes_per_article[size]).median

    def change(self) -> float:
        """Median throughput at the largest index relative to the smallest, minus one (-0.05: 5% slower)."""
        sizes = sorted(self.rates)
        return self.summary(sizes[-1]).median / self.summary(sizes[0]).median - 1


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


async def _preload(url: str, size: int, window_seconds: int, run: int) -> None:
    """Where the service's index lives: the steady state of a wire indexing ``size`` articles a
    window, sentence counts included (``evaluation.dedup_redis_cost.preload``), as of now."""
    client = aioredis.Redis.from_url(url, socket_timeout=600)
    try:
        layout = RedisLayout(window_seconds=window_seconds)
        await preload(client, layout, size, int(time.time()), np.random.default_rng(404 + run))
    finally:
        await client.aclose()


def _rewriting(client: redis.Redis) -> bool:
    return bool(int(client.info("persistence")["aof_rewrite_in_progress"]))


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
        # Each run measures every size in turn, so that the host's speed, which drifts by 2x within
        # minutes on a shared machine, weighs on all sizes alike (all of one size, then all of the
        # next, once measured -17% at 100,000 where the same code had measured -3%).
        for run, tagged in enumerate(inputs):
            for size in plan.sizes:
                # A fresh pre-load for every run: the real articles a run judged stay in the index,
                # and the next run's articles (made of the same corpus sentences) would find more
                # candidates among them, so runs on one index slow down one after the other.
                client.flushdb()
                # Memory is read with no AOF rewrite running: while one ran after the last drain,
                # used_memory read 10.5 MB higher, and that run reported 822 B per article at
                # 100,000 where the others reported 927 (the same data set).
                wait_for(lambda: not _rewriting(client), 1800, "an AOF rewrite before the pre-load", 0.5)
                base = int(client.info("memory")["used_memory"])
                started = time.perf_counter()
                asyncio.run(_preload(server.url, size, window, run))
                result.fill_rate[size] = size / (time.perf_counter() - started)
                # The pre-load wrote the data set in minutes; Redis rewrites its AOF after such growth,
                # and a rewrite of gigabytes competes with the drain for this machine's cores.
                wait_for(lambda: not _rewriting(client), 1800, "the AOF rewrite after the pre-load", 0.5)
                grown = int(client.info("memory")["used_memory"]) - base
                result.bytes_per_article.setdefault(size, []).append(grown / size)
                copy_entries(client, ARTICLES_TAGGED, tagged)
                result.rates.setdefault(size, []).append(_drain_dedup(server.url, len(tagged)))
                log(f"dedup with {size:,} indexed: {result.rates[size][-1]:,.0f}/s")
        client.close()
    return result


def markdown(result: Result) -> str:
    rows = [
        f"| {size:,} | {result.summary(size).render(0)} | {result.memory(size):,.0f} "
        f"| {result.fill_rate[size]:,.0f} |"
        for size in sorted(result.rates)
    ]
    sizes = sorted(result.rates)
    return "\n".join(
        [
            "## Dedup at scale (index pre-loaded)",
            "",
            f"The dedup service alone drains {result.articles} real tagged articles (other articles in each "
            "run) after Redis was pre-loaded with the steady state of a wire indexing N articles a window "
            "(synthetic distinct articles, in the service's layout: the index and the per-outlet sentence "
            "counts of three generations, as `python -m evaluation.dedup_redis_cost` builds them). Memory: "
            "growth of Redis `used_memory` over the pre-load, divided by N (index records, anchor buckets "
            "and sentence counts; story records are not in the pre-load), read with no AOF rewrite "
            "running, median of the runs. Rates: median (min-max) of the runs.",
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
    parser.add_argument("--million", action="store_true", help="also 1,000,000 indexed (~15 min a run)")
    parser.add_argument("--runs", type=int, help="runs per index size (default: 3, --quick: 1)")
    args = parser.parse_args(argv)
    plan = Plan.for_(quick=args.quick, million=args.million)
    if args.runs:
        plan = replace(plan, runs=args.runs)
    print(markdown(measure(load_corpus(data_dir()), plan)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
