"""Redis's own work per judged article on the service's path, with the index pre-loaded.

Starts a throw-away ``redis-server`` (as ``evaluation.dedup_speed`` does). For each index size it
empties Redis, pre-loads that many synthetic distinct articles through ``RedisNearIndex`` (random
sketches and anchors, and 20 sentence counts each over 50 outlets, so the sentence hashes are as
full as the index), then judges the real generated evaluation stream as the service does: a fresh
``RedisDeduplicator`` (an empty template cache, like a new process), ``judge_many`` in read
batches of 100. Reported per judged article:

* Redis: microseconds inside the dedup script (``INFO commandstats``: EVALSHA ``usec``, which
  includes the commands the script runs; ``CONFIG RESETSTAT`` before), the server's CPU
  (``INFO cpu``, user + sys: also the network and parsing), and commands run (inside scripts too);
* this process: CPU time (``time.process_time``) of ``judge_many`` (fingerprints, arguments,
  the round trips' encoding and decoding);
* a digest of the verdicts (status, story), so a change of the script's Redis work can be shown
  not to change a single verdict.

Redis's CPU is much less sensitive to other load on the machine than wall-clock throughput.

``python -m evaluation.dedup_redis_cost [--sizes 10000,100000] [--runs 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import redis.asyncio as aioredis

from evaluation.common import data_dir
from evaluation.dedup_sets import generate
from evaluation.dedup_speed import BATCH, _events, _fill, _redis_cpu, redis_server
from services.dedup.redis_dedup import RedisDeduplicator
from services.dedup.redis_near import RedisLayout, RedisNearIndex, RedisSentenceFrequency
from shared.messages import ArticleTagged


@dataclass(frozen=True)
class Probe:
    script_us: float  # EVALSHA usec per judged article
    redis_cpu_us: float  # redis-server CPU per judged article
    process_cpu_us: float  # this process's CPU per judged article
    calls: float  # script calls per judged article
    commands: Counter[str]  # commands per judged article, inside scripts too
    verdicts: str  # digest of (article id, status, story) in order


async def _probe(
    client: aioredis.Redis, layout: RedisLayout, events: Sequence[ArticleTagged], now: float
) -> Probe:
    deduplicator = RedisDeduplicator(client, layout)
    judged: list[str] = []
    await client.config_resetstat()
    redis_before = await _redis_cpu(client)
    cpu = time.process_time()
    for b in range(0, len(events), BATCH):
        for result in await deduplicator.judge_many(events[b : b + BATCH], now=now):
            if isinstance(result, Exception):
                raise result
            judged.append(f"{result.article.id} {result.verdict.status} {result.verdict.story_id}")
    cpu = time.process_time() - cpu
    redis_cpu = await _redis_cpu(client) - redis_before
    stats = await client.info("commandstats")
    n = len(events)
    commands: Counter[str] = Counter()
    script_us = 0.0
    calls = 0
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_")
        if command in {"config", "info"}:
            continue
        commands[command] = int(values["calls"])
        if command == "evalsha":
            script_us = float(values["usec"])
            calls = int(values["calls"])
    return Probe(
        script_us / n,
        redis_cpu / n * 1e6,
        cpu / n * 1e6,
        calls / n,
        Counter({k: v / n for k, v in commands.items()}),
        hashlib.sha256("\n".join(judged).encode()).hexdigest()[:16],
    )


async def measure(url: str, sizes: Sequence[int], runs: int) -> dict[int, list[Probe]]:
    docs = generate(data_dir()).docs
    events = _events(docs)
    client = aioredis.Redis.from_url(url, socket_timeout=600)
    layout = RedisLayout()
    index = RedisNearIndex(client, layout)
    frequency = RedisSentenceFrequency(client, layout)
    now = time.time()
    results: dict[int, list[Probe]] = {}
    try:
        for size in sizes:
            for run in range(runs):
                await client.flushdb()
                await _fill(index, frequency, size, 0, now, np.random.default_rng(7 + run))
                probe = await _probe(client, layout, events, now)
                results.setdefault(size, []).append(probe)
                print(
                    f"{size:>9,} indexed, run {run + 1}: script {probe.script_us:6.1f} us, "
                    f"redis CPU {probe.redis_cpu_us:6.1f} us, process CPU {probe.process_cpu_us:6.0f} us, "
                    f"{probe.calls:.3f} calls, verdicts {probe.verdicts}",
                    flush=True,
                )
    finally:
        await client.aclose()
    return results


def report(results: dict[int, list[Probe]]) -> str:
    lines = [
        "| indexed | script µs/article (Redis) | Redis CPU µs/article | process CPU µs/article "
        "| script calls/article | Redis commands/article (top 6) | verdicts |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, probes in results.items():
        commands: Counter[str] = Counter()
        for probe in probes:
            commands.update(probe.commands)
        top = ", ".join(f"{name} {v / len(probes):.1f}" for name, v in commands.most_common(6))
        total = sum(commands.values()) / len(probes)

        def median(values: list[float]) -> str:
            return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

        lines.append(
            f"| {size:,} | {median([p.script_us for p in probes])} "
            f"| {median([p.redis_cpu_us for p in probes])} "
            f"| {median([p.process_cpu_us for p in probes])} | {probes[0].calls:.3f} | {total:.1f} ({top}) "
            f"| {', '.join(sorted({p.verdicts for p in probes}))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="index sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (a fresh pre-load each)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with redis_server() as url:
        results = asyncio.run(measure(url, sizes, args.runs))
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
