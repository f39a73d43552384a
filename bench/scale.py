"""Dedup at scale: what an article costs the dedup service (CPU, throughput) with 10,000 vs
100,000 (vs 1,000,000) articles already in its index, and Redis memory per indexed article.

Redis is pre-loaded with the steady state of a wire that indexes N articles a window: the index,
through the dedup package's own Redis classes with the layout the service uses, the last
generation's anchor table, and the per-outlet sentence counts and gates of the last two generations
(``evaluation.dedup_redis_cost.preload``),
from synthetic fingerprints of distinct articles (random sketches, anchors and sentence keys: no
real text needed, and none of them matches the real articles). Then the same real articles,
tagged in-process and published as the tagger publishes them, are drained by the dedup service.

Each size has a Redis server of its own, pre-loaded once; its data folder (the AOF, rewritten
after the pre-load) is kept, and every drain starts from a Redis restarted on a fresh copy of it.
(Drains used to start from the pre-load put back with ``RESTORE`` and an AOF rewrite after it,
whose fork left the heap's pages to fault on their first write during the drain: 41 faults per
article at a million against 5 after a restart; docs/scaling.md, "A fork before the drain".) In a run
the sizes drain side by side, a dedup process each, started together, and the change between
sizes is the median of the runs' own ratios. This host's speed drifts by 2x within minutes: with
a pre-load between the two drains of a pair, the change read +23% and -26% in two runs an hour
apart on the same index code; with the drains one after the other, some 20 s apart, single runs'
ratios still ranged from -36% to +15%. Side by side they ranged from -5% to +3% (throughput) and
from 0% to +10% (CPU) in six runs of a prototype, but from -30% to +14% and from -14% to +42% in
the first `make bench` of twelve: hence twelve. Then each size drains alone a few times, in
alternating order: the dedup issue's throughput (one process, the machine to itself) at 100,000,
and the same change drained so, for comparison.

``python -m bench.scale [--quick] [--million] [--runs N]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path
from typing import cast

import numpy as np
import redis
import redis.asyncio as aioredis
from faststream.redis import RedisBroker

from bench.articles import Corpus, Item, batch, load_corpus
from bench.harness import (
    Entry,
    copy_entries,
    entries,
    private_redis,
    process_cpu_seconds,
    redis_cpu_seconds,
    services,
)
from bench.stats import Summary, drain_rate, entry_millis, overlapping_rates
from devstack import wait_for
from evaluation.common import data_dir
from evaluation.dedup_redis_cost import preload
from services.dedup.redis_near import SWEEP_CLOCKS, RedisLayout
from services.dedup.service import SERVICE
from services.intake.normalise import read_input
from services.tagger.service import build_tagger, tag_received
from shared.embedded_redis import EmbeddedRedis
from shared.health import Heartbeat, heartbeat_key
from shared.messages import ARTICLES_DUPLICATES, ARTICLES_TAGGED, ARTICLES_UNIQUE, ArticleReceived
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER, consumer_name

MILLION = 1_000_000
# The index size at which one dedup process also drains alone (the dedup issue's throughput): the
# size of its memory goal, where a wire that indexes 100,000 articles a window runs.
ALONE_AT = 100_000


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    articles: int
    runs: int  # the sizes drained side by side
    alone_runs: int  # each size drained alone, once a run

    @classmethod
    def for_(cls, *, quick: bool, million: bool = False) -> Plan:
        if quick:
            return cls(sizes=(2_000, 10_000), articles=500, runs=1, alone_runs=1)
        sizes = (10_000, 100_000, MILLION) if million else (10_000, 100_000)
        # 2,000 articles a drain: with 1,000 a drain lasted about a second, and the runs' ratios
        # scattered from -33% to +20%. Drained one after the other, a pair's ratio still scattered
        # by 10-20% (from -36% to +15% in one set of twelve); side by side, single runs still
        # ranged from -30% to +14% in a set of twelve. Twelve runs take some three minutes.
        return cls(sizes=sizes, articles=2_000, runs=12, alone_runs=4)

    @property
    def alone_at(self) -> int:
        """The size whose drains alone give the dedup issue's throughput: ALONE_AT, or the largest
        size below it (--quick)."""
        return max(size for size in self.sizes if size <= ALONE_AT)


@dataclass
class Result:
    # Per size, each run's drain side by side: articles/s while every size was draining, and the
    # cost per article, ms: the dedup process, Redis, and Redis inside the scripts.
    rates: dict[int, list[float]] = field(default_factory=dict)
    usage: dict[int, list[Usage]] = field(default_factory=dict)
    # The same, each size drained with the machine to itself (articles/s from the first output to
    # the last).
    alone_rates: dict[int, list[float]] = field(default_factory=dict)
    alone_usage: dict[int, list[Usage]] = field(default_factory=dict)
    bytes_per_article: dict[int, list[float]] = field(default_factory=dict)
    fill_rate: dict[int, float] = field(default_factory=dict)
    articles: int = 0
    alone_at: int = 0  # the size whose drains give the dedup issue's throughput

    def summary(self, size: int) -> Summary:
        return Summary.of(self.rates.get(size, []))

    def memory(self, size: int) -> float:
        """Redis bytes per indexed article of ``size``'s pre-load (the median, were there several)."""
        return Summary.of(self.bytes_per_article[size]).median

    def ratios(self, figures: dict[int, list[float]] | None = None, at: int | None = None) -> list[float]:
        """Per run, its figure (throughput unless told) at index size ``at`` (the largest unless
        told) over the smallest."""
        figures = self.rates if figures is None else figures
        sizes = sorted(figures)
        large = figures[sizes[-1] if at is None else at]
        return [big / small for small, big in zip(figures[sizes[0]], large, strict=True)]

    def change(self, figures: dict[int, list[float]] | None = None, at: int | None = None) -> float:
        """The median of the runs' ratios, minus one (-0.05: 5% slower at the largest index)."""
        return Summary.of(self.ratios(figures, at)).median - 1

    @property
    def cpu_ms(self) -> dict[int, list[float]]:
        """Per size, each drain's CPU (dedup process + Redis) per article, ms: what an article costs,
        beside the rate."""
        return _cpu_ms(self.usage)

    @property
    def alone_cpu_ms(self) -> dict[int, list[float]]:
        return _cpu_ms(self.alone_usage)

    @property
    def alone(self) -> Summary:
        """Articles/s of one dedup process draining alone at ``alone_at`` indexed."""
        return Summary.of(self.alone_rates.get(self.alone_at, []))

    def cpu_change(self, at: int | None = None) -> float:
        """The same of the CPU per article (0.05: each article costs 5% more at the largest index)."""
        return self.change(self.cpu_ms, at)


def _cpu_ms(usage: dict[int, list[Usage]]) -> dict[int, list[float]]:
    return {size: [used.cpu for used in drains] for size, drains in usage.items()}


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


async def _preload(url: str, size: int, window_seconds: int) -> None:
    """Where the service's index lives: the steady state of a wire indexing ``size`` articles a
    window, sentence counts included (``evaluation.dedup_redis_cost.preload``), as of now."""
    client = aioredis.Redis.from_url(url, socket_timeout=600)
    try:
        layout = RedisLayout(window_seconds=window_seconds)
        await preload(client, layout, size, int(time.time()), np.random.default_rng(404 + size))
    finally:
        await client.aclose()


def _split(used: Sequence[Usage]) -> str:
    """The medians of the dedup process's and Redis's CPU per article, and of Redis's time in scripts."""
    process, redis_, scripts = (
        Summary.of([getattr(u, name) for u in used]).median for name in ("process_s", "redis_s", "script_s")
    )
    return f"{process:.2f} / {redis_:.2f} ({scripts:.2f})"


def saved(server: EmbeddedRedis, folder: Path) -> Path:
    """``server`` stopped, and a copy of its data folder (its AOF) kept in ``folder``."""
    server.stop(timeout=600)
    shutil.copytree(server.data_dir, folder)
    return folder


def restarted(server: EmbeddedRedis, folder: Path) -> None:
    """``server`` restarted on a fresh copy of ``folder`` (``saved``): the database as it was saved.
    Loading an AOF forks nothing. Before, every drain began with the pre-load put back with
    ``RESTORE`` and then an AOF rewrite (else Redis started one on its own during the drain), whose
    fork left every page of the heap to be copied or made writable again on its first write: with
    1,000,000 indexed, 41 page faults per article of the drain that followed, against 5 after a
    restart (13 against 5 at 100,000)."""
    server.stop(timeout=600)
    shutil.rmtree(server.data_dir)
    shutil.copytree(folder, server.data_dir)
    server.start(timeout=900)  # loading the AOF of a million takes ~10 s


def _fresh(server: EmbeddedRedis, folder: Path) -> None:
    """The pre-load as a running wire holds it: loaded, its sweeps up to the clock."""
    restarted(server, folder)
    client = redis.Redis.from_url(server.url)
    try:
        _sweeps_kept_pace(client)
    finally:
        client.close()


def _rewriting(client: redis.Redis) -> bool:
    persistence = client.info("persistence")
    return bool(int(persistence["aof_rewrite_in_progress"]) or int(persistence["aof_rewrite_scheduled"]))


def _rewrite_aof(client: redis.Redis) -> None:
    """Rewrite the AOF now and wait for it. A pre-load appends the whole index to the AOF, and
    Redis rewrites a grown AOF on its own a moment later (its cron): first runs, drained while such
    a rewrite (a forked child writing the index) ran, measured 250-400 articles/s against ~1,000."""
    wait_for(lambda: not _rewriting(client), 1800, "an AOF rewrite under way", 0.2)
    client.bgrewriteaof()
    wait_for(lambda: not _rewriting(client), 1800, "the AOF rewrite asked for", 0.2)


def _sweeps_kept_pace(client: redis.Redis) -> None:
    """Bring the restored index's sweeps up to the clock, as a running wire's are. The pre-load's
    sweeps stopped at its end, so a drain minutes later would first sweep every hash due since:
    at a million indexed, ~0.9 ms of Redis per article of the drain (measured), a figure that grew
    with the time since the pre-load and the index's size. The sweeps' own work per article at a
    wire's pace is what `evaluation.dedup_redis_cost` measures (its clock simulated)."""
    client.hset(f"{RedisLayout().prefix}meta", mapping=dict.fromkeys(SWEEP_CLOCKS, int(time.time())))


@dataclass(frozen=True)
class Usage:
    """What one dedup process and its Redis have used so far."""

    process_s: float  # the dedup process's CPU
    redis_s: float  # its Redis server's CPU
    script_s: float  # time Redis spent inside dedup's scripts (wall time: a preempted Redis counts too)

    @property
    def cpu(self) -> float:
        """The dedup process's and its Redis's CPU together."""
        return self.process_s + self.redis_s

    @classmethod
    def of(cls, pid: int, client: redis.Redis) -> Usage:
        scripts = cast("dict[str, dict[str, float]]", client.info("commandstats")).get("cmdstat_evalsha", {})
        return cls(process_cpu_seconds(pid), redis_cpu_seconds(client), scripts.get("usec", 0) / 1e6)

    def per_article_ms(self, since: Usage, articles: float) -> Usage:
        """What was used since ``since``, per article, in ms."""
        return Usage(
            *(1000 * (now - then) / articles for now, then in zip(astuple(self), astuple(since), strict=True))
        )


@dataclass(frozen=True)
class Drain:
    output_ms: list[int]  # the millisecond times of its outputs (their entry ids)
    per_article: Usage  # ms per article from its first output on (nan: a drain too short to tell)


def _drain(urls: dict[int, str], tagged: list[Entry]) -> dict[int, Drain]:
    """A dedup service per size, each against its own Redis, draining ``tagged``: all started,
    and once all are ready given their input at the same moment (one size: the machine to
    itself). Each one's CPU is counted from its first output on (start-up left out) to its last."""
    clients = {size: redis.Redis.from_url(url) for size, url in urls.items()}
    outputs = (ARTICLES_UNIQUE, ARTICLES_DUPLICATES)
    expected = len(tagged)

    def total(size: int) -> int:
        return sum(int(clients[size].xlen(stream)) for stream in outputs)

    with contextlib.ExitStack() as running:
        pids = {size: _started_dedup(running, url) for size, url in urls.items()}
        wait_for(lambda: all(map(_ready, clients.values(), pids.values())), 60, "every dedup ready", 0.02)
        with ThreadPoolExecutor(len(urls)) as feeding:
            list(feeding.map(lambda client: copy_entries(client, ARTICLES_TAGGED, tagged), clients.values()))
        firsts: dict[int, tuple[int, Usage]] = {}
        lasts: dict[int, Usage] = {}
        deadline = time.monotonic() + 60 + expected / 10
        while len(lasts) < len(urls):
            if time.monotonic() > deadline:
                behind = sorted(set(urls) - set(lasts))
                raise TimeoutError(f"dedup did not drain {expected} articles with {behind} indexed")
            for size, pid in pids.items():
                done = total(size)
                if size not in firsts and done >= 1:
                    firsts[size] = (done, Usage.of(pid, clients[size]))
                if size in firsts and size not in lasts and done >= expected:
                    lasts[size] = Usage.of(pid, clients[size])
            time.sleep(0.005)
    drains = {}
    for size, client in clients.items():
        millis = [entry_millis(entry_id) for stream in outputs for entry_id, _ in entries(client, stream)]
        counted, then = firsts[size]
        # A drain so short that its first outputs were most of it (--quick) tells nothing of the CPU.
        measured = expected - counted if expected - counted >= expected / 2 else math.nan
        drains[size] = Drain(millis, lasts[size].per_article_ms(then, measured))
        client.close()
    return drains


def _drained(size: int, rate: float, drain: Drain) -> str:
    used = drain.per_article
    return (
        f"{size:,} indexed {rate:,.0f}/s, CPU per article {used.cpu:.2f} ms (dedup {used.process_s:.2f}, "
        f"Redis {used.redis_s:.2f}; in scripts {used.script_s:.2f})"
    )


def _ready(client: redis.Redis, pid: int) -> bool:
    """The dedup process ``pid`` reports every subscriber of its running (``shared.health``)."""
    raw = client.get(heartbeat_key(SERVICE, consumer_name(SERVICE, pid)))
    return raw is not None and Heartbeat(**json.loads(raw)).ready


def _started_dedup(running: contextlib.ExitStack, url: str) -> int:
    stack = running.enter_context(services(url, ["dedup"]))
    process = stack.services["dedup"].process
    assert process is not None  # started
    return process.pid


def _preloaded(server: EmbeddedRedis, size: int, window: int, result: Result, folder: Path) -> Path:
    """Pre-load ``size`` into ``server``'s empty database: its memory per article and fill rate go
    into ``result``; the pre-load is kept in ``folder`` (``saved``), the server left stopped."""
    client = redis.Redis.from_url(server.url, socket_timeout=600)
    try:
        # Memory is read with no AOF rewrite running: while one ran after the last drain, used_memory
        # read 10.5 MB higher, and that run reported 822 B per article at 100,000 where the others
        # reported 927 (the same data set).
        wait_for(lambda: not _rewriting(client), 1800, "an AOF rewrite before the pre-load", 0.5)
        base = int(client.info("memory")["used_memory"])
        started = time.perf_counter()
        asyncio.run(_preload(server.url, size, window))
        result.fill_rate[size] = size / (time.perf_counter() - started)
        wait_for(lambda: not _rewriting(client), 1800, "the AOF rewrite after the pre-load", 0.5)
        grown = int(client.info("memory")["used_memory"]) - base
        result.bytes_per_article.setdefault(size, []).append(grown / size)
        # Kept compact, so that a drain neither waits for a long load nor sees Redis rewrite it.
        _rewrite_aof(client)
    finally:
        client.close()
    return saved(server, folder)


def _alone(server: EmbeddedRedis, folder: Path, size: int, tagged: list[Entry], result: Result) -> str:
    """One drain of ``size`` with the machine to itself, from its pre-load; what it measured."""
    _fresh(server, folder)
    drain = _drain({size: server.url}, tagged)[size]
    rate = drain_rate(drain.output_ms)
    result.alone_rates.setdefault(size, []).append(rate)
    result.alone_usage.setdefault(size, []).append(drain.per_article)
    return _drained(size, rate, drain)


def _side_by_side(
    servers: dict[int, EmbeddedRedis], folders: dict[int, Path], tagged: list[Entry], result: Result
) -> str:
    """Every size drained at once, from its pre-load; what they measured."""
    for size, server in servers.items():
        _fresh(server, folders[size])
    drains = _drain({size: server.url for size, server in servers.items()}, tagged)
    rates = overlapping_rates({size: drain.output_ms for size, drain in drains.items()})
    for size, drain in drains.items():
        result.rates.setdefault(size, []).append(rates[size])
        result.usage.setdefault(size, []).append(drain.per_article)
    return ", ".join(_drained(size, rates[size], drains[size]) for size in sorted(drains))


def measure(corpus: Corpus, plan: Plan, log: Callable[[str], object] = print) -> Result:
    result = Result(articles=plan.articles, alone_at=plan.alone_at)
    window = int(Settings().dedup_window_hours * 3600)
    with contextlib.ExitStack() as stack:
        kept = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newswire-bench-preloads-")))
        servers = {size: stack.enter_context(private_redis()) for size in plan.sizes}
        # The same articles in every drain: each starts from its size's pre-load (what a drain
        # judged is gone with the copy it ran on), so none of them is in the index before, and
        # drains differ only by the size and what the host did meanwhile.
        first = servers[plan.sizes[0]].url
        asyncio.run(publish_tagged(first, batch(corpus, plan.articles, seed=404)))
        with redis.Redis.from_url(first) as client:
            tagged = entries(client, ARTICLES_TAGGED)
            client.delete(ARTICLES_TAGGED)
        folders = {
            size: _preloaded(server, size, window, result, kept / str(size))
            for size, server in servers.items()
        }
        for run in range(plan.runs):
            # Fed in the other order every other run, should the first fed lead by a little.
            fed = {size: servers[size] for size in (plan.sizes if run % 2 == 0 else plan.sizes[::-1])}
            log("dedup side by side: " + _side_by_side(fed, folders, tagged, result))
        for run in range(plan.alone_runs):
            # A run's drains, a minute or less apart (a restart each), compare the sizes; the order
            # alternates, so that neither size is always the one drained while the host speeds up
            # or slows down.
            order = plan.sizes if run % 2 == 0 else plan.sizes[::-1]
            log("dedup alone: " + "; ".join(_alone(servers[s], folders[s], s, tagged, result) for s in order))
    return result


def markdown(result: Result) -> str:
    sizes = sorted(result.rates)
    rows = [
        f"| {size:,} | {result.summary(size).render(0)} | {Summary.of(result.cpu_ms[size]).render(2)} "
        f"| {_split(result.usage[size])} | {result.memory(size):,.0f} | {result.fill_rate[size]:,.0f} |"
        for size in sizes
    ]
    alone_rows = [
        f"| {size:,} | {Summary.of(result.alone_rates[size]).render(0)} "
        f"| {Summary.of(result.alone_cpu_ms[size]).render(2)} | {_split(result.alone_usage[size])} |"
        for size in sorted(result.alone_rates)
    ]
    return "\n".join(
        [
            "## Dedup at scale (index pre-loaded)",
            "",
            f"A dedup service per size drains {result.articles:,} real tagged articles (the same ones "
            "in every drain), each against a Redis server of its own, pre-loaded with the steady state "
            "of a wire indexing N articles a window (synthetic distinct articles, in the service's "
            "layout: the index, the last generation's anchor table, and the per-outlet sentence counts and "
            "gates of the last two generations, as "
            "`python -m evaluation.dedup_redis_cost` builds them). Each size is pre-loaded once and its "
            "data folder kept; every drain starts from its Redis restarted on a fresh copy of it (the "
            "AOF loaded: no fork before the drain). In each run the sizes drain side by side, started "
            "together, so that whatever the host does weighs on all alike (they also share the processor's "
            "last-level cache, which the smallest index drained alone has to itself: side by side mostly "
            "reads a smaller change between sizes than alone, docs/scaling.md); each pair of a dedup process "
            "and its Redis has about one of the two cores, so the rates are about half what one "
            "service alone drains (below). Rate: outputs per second while every size was draining. "
            "CPU: the dedup process and its Redis, per article, from its first output to its last; "
            "time in scripts: Redis's own count for dedup's script calls (wall time, so with several "
            "processes on two cores it can exceed Redis's CPU). Median (min-max) of the runs; the "
            "change between sizes is the median of the runs' own ratios. Memory: growth of Redis "
            "`used_memory` over the pre-load, divided by N (index records, anchor buckets and sentence "
            "counts; story records are not in the pre-load), read with no AOF rewrite running.",
            "",
            "| indexed articles | articles/s, side by side | CPU ms per article | of it dedup / Redis "
            "(time in scripts), medians | Redis bytes per indexed article | pre-load, articles/s |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            _changes(result, result.cpu_ms, result.rates, "median of the runs' ratios"),
            "",
            "Alone (the dedup issue's throughput at "
            f"{result.alone_at:,} indexed): one dedup process and its Redis with the machine to "
            f"themselves drain the same {result.articles:,} articles, each size once a run, in "
            "alternating order, after the runs side by side. Rate: outputs per second from the first "
            "to the last.",
            "",
            "| indexed articles | articles/s, alone | CPU ms per article | of it dedup / Redis "
            "(time in scripts), medians |",
            "|---|---|---|---|",
            *alone_rows,
            "",
            _changes(result, result.alone_cpu_ms, result.alone_rates, "alone"),
            *(
                []
                if MILLION in result.rates
                else [
                    "",
                    f"The dedup issue asks for a flat cost up to {MILLION:,}: `make bench` measures it "
                    "(`python -m bench --million`, or `python -m bench.scale --million` alone); this "
                    "run did not.",
                ]
            ),
        ]
    )


def _changes(result: Result, cpu: dict[int, list[float]], rates: dict[int, list[float]], how: str) -> str:
    """Per size past the smallest, its change against the smallest: medians of the runs' ratios."""
    sizes = sorted(rates)
    return "\n\n".join(
        f"At {size:,} against {sizes[0]:,}, {how}: CPU per article **{result.change(cpu, size):+.1%}** "
        f"(runs: {_percentages(result.ratios(cpu, size))}); throughput **{result.change(rates, size):+.1%}** "
        f"(runs: {_percentages(result.ratios(rates, size))})."
        for size in sizes[1:]
    )


def _percentages(ratios: list[float]) -> str:
    return ", ".join(f"{ratio - 1:+.0%}" for ratio in ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small indexes, one run")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 indexed (~20 min in all)")
    parser.add_argument("--runs", type=int, help="runs side by side (default: 12, --quick: 1)")
    args = parser.parse_args(argv)
    plan = Plan.for_(quick=args.quick, million=args.million)
    if args.runs:
        plan = replace(plan, runs=args.runs)
    print(markdown(measure(load_corpus(data_dir()), plan)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
