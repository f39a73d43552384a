"""Redis's own work and memory per judged article on the service's path, index pre-loaded.

Starts a throw-away ``redis-server`` (as ``evaluation.dedup_speed`` does). For each index size N
it empties Redis and pre-loads the steady state of a wire that indexes N articles per window,
half-way through a generation (synthetic distinct articles: random sketches and anchors, 20 sentence
counts each over 50 outlets):

* the index: N articles (one window of unique articles), N/2 of them indexed at the end of the
  last generation and N/2 in this one; the last generation's anchor table as full as N articles'
  anchors make it (its first half's, whose articles are dead by now, recorded rather than indexed);
* the sentence counts: N/2 articles' in this generation (come in over its first half) and N in
  the last; and that the one before counted N (what the last one's gate was sized from).

Then it judges the real generated evaluation stream as the service does: a fresh
``RedisDeduplicator`` (an empty template cache, like a new process), ``judge_many`` in read
batches of 100, with the clock advancing one window per N articles (so the clock-paced sweep of the
sentence counts does its steady share of work). Reported per judged article:

* Redis: microseconds inside the dedup script (``INFO commandstats``: EVALSHA ``usec``, which
  includes the commands the script runs; ``CONFIG RESETSTAT`` before), the server's CPU
  (``INFO cpu``, user + sys: also the network and parsing), and commands run (inside scripts too);
* this process: CPU time (``time.process_time``) of ``judge_many`` (fingerprints, arguments,
  the round trips' encoding and decoding);
* a digest of the verdicts (status, story), so a change of the script's Redis work can be shown
  not to change a single verdict;
* the sentence counts' sweep: count hashes swept per article during the stream, and the script
  time per hash swept (after the stream: the same 2,048 counting calls with the clock standing,
  then moving so each has its share of sweeps due; the difference over the hashes swept).

And per indexed article, after the pre-load: Redis ``used_memory`` growth from the empty
database, split by kind of key (``MEMORY USAGE`` of a sample of each kind's keys, scaled), with
the share of sampled hashes past Redis's compact encoding (ziplist in 6.2, listpack in 7).

Redis's CPU is much less sensitive to other load on the machine than wall-clock throughput.

``python -m evaluation.dedup_redis_cost [--sizes 10000,100000] [--runs 3] [--shards 32768]
[--compact-entries 128]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import redis.asyncio as aioredis

from evaluation.common import data_dir
from evaluation.dedup_sets import generate
from evaluation.dedup_speed import (
    BATCH,
    SYNTHETIC_OUTLETS,
    SYNTHETIC_SENTENCES,
    _events,
    _redis_cpu,
    _synthetic,
    redis_server,
)
from services.dedup.fingerprint import ANCHORS
from services.dedup.redis_dedup import RedisDeduplicator
from services.dedup.redis_near import (
    COUNT_HASHES,
    DEFAULT_SHARDS,
    SWEEP_BATCH,
    TABLE_BUCKET_BYTES,
    TABLE_LOAD,
    TABLE_SLOTS,
    RedisLayout,
    RedisNearIndex,
    RedisSentenceFrequency,
    gate_counted,
    table_counted,
    table_key,
)
from shared.embedded_redis import COMPACT_HASH_ENTRIES
from shared.messages import ArticleTagged

CHUNK = 10_000  # synthetic articles made at a time
PIPELINE = 500  # script calls per round trip while pre-loading
SAMPLED = 400  # hashes of each kind whose memory is measured
TABLE_CHUNK = 65_536  # buckets of a pre-loaded anchor table written at a time (4 MB)
KINDS = {
    "anchor tables (a:)": b"a:",
    "exact hashes (h:)": b"h:",
    "sentence counts (c:)": b"c:",
    "sentence gates (b:)": b"b:",
    "records (r:)": b"r:",
}


@dataclass(frozen=True)
class Memory:
    """Redis memory after the pre-load, per indexed article."""

    used: float  # used_memory growth per indexed article
    kinds: dict[str, float]  # estimated bytes per indexed article by kind of key
    big: dict[str, float] = field(default_factory=dict)  # share of sampled hashes not compact


@dataclass(frozen=True)
class Probe:
    script_us: float  # EVALSHA usec per judged article
    redis_cpu_us: float  # redis-server CPU per judged article
    process_cpu_us: float  # this process's CPU per judged article
    calls: float  # script calls per judged article
    commands: Counter[str]  # commands per judged article, inside scripts too
    verdicts: str  # digest of (article id, status, story) in order
    memory: Memory
    sweep_us: float = 0.0  # script usec per count hash swept (see _sweep_cost)
    sweeps: float = 0.0  # count hashes swept per judged article


async def preload(
    client: aioredis.Redis, layout: RedisLayout, size: int, now: int, rng: np.random.Generator
) -> None:
    """The steady state of ``size`` indexed articles per window, at ``now`` (see module doc)."""
    index = RedisNearIndex(client, layout)
    frequency = RedisSentenceFrequency(client, layout)
    window = layout.window_seconds
    # Half-way through a generation, as the counts below: the last generation's anchor table holds
    # a window's anchors, those of its first half's articles (dead by now) recorded rather than
    # indexed (a table as full as they make it, of anchors no real article has); its second half's
    # articles are indexed at its end, and this generation's half a window's at `now`.
    last = now // window - 1
    await _last_generation_table(client, layout, last, size * ANCHORS, size // 2 * ANCHORS, rng)
    for moment, first, count in (
        (last * window + window - 1, 0, size // 2),
        (now, size // 2, size - size // 2),
    ):
        for offset in range(first, first + count, CHUNK):
            items = _synthetic(min(CHUNK, first + count - offset), offset, rng)
            for b in range(0, len(items), PIPELINE):
                await index.check_and_insert_many(items[b : b + PIPELINE], now=moment)
    # The generation before the last counted a window's articles too, which shows only in the size
    # of the last one's gate: its own gate has expired by now, and the sentences it saw once left no
    # count fields. So it is recorded rather than counted (counted, its gate would expire as it is
    # set, and Redis allocate a new one script after script).
    for name, value in gate_counted(now // window - 2, size * SYNTHETIC_SENTENCES).items():
        await client.hset(f"{layout.prefix}meta", name, value)
    # (from, to, articles): this generation's counts come in over its first half, as the clock
    # (and the sweep with it) moves on, so the sweep is half a round into this generation.
    this_generation = now - now % window
    counted = [
        (now - window, now - window, size),
        (this_generation, now, size - size // 2),
    ]
    # Past 100,000 a script counts several articles of an outlet at once (their random keys are
    # distinct, so the counts stored are the same) to keep the pre-load short; still enough scripts
    # to keep the sweep's pace.
    together = max(1, size // 100_000)
    for first, last, articles in counted:
        for offset in range(0, articles, CHUNK):
            keys = rng.integers(0, 2**62, size=(min(CHUNK, articles - offset), SYNTHETIC_SENTENCES))
            sentences = [
                (f"outlet-{o}", [int(k) for k in rows[g : g + together].flat])
                for o in range(SYNTHETIC_OUTLETS)
                for rows in [keys[o::SYNTHETIC_OUTLETS]]
                for g in range(0, len(rows), together)
            ]
            for b in range(0, len(sentences), PIPELINE):
                moment = first + (last - first) * (offset + b * len(keys) // len(sentences)) // articles
                await frequency.count_many(sentences[b : b + PIPELINE], now=moment)


async def _last_generation_table(
    client: aioredis.Redis,
    layout: RedisLayout,
    generation: int,
    anchors: int,
    recorded: int,
    rng: np.random.Generator,
) -> None:
    """Generation ``generation``'s anchor table, sized for ``anchors``, with ``recorded`` of them
    set: each bucket's first slots taken (as many as a Poisson count at that load, at most a
    bucket's) by random anchors of seq 1; its meta (``table_counted``)."""
    buckets = max(layout.table_min_buckets, math.ceil(anchors / (TABLE_SLOTS * TABLE_LOAD)))
    key = table_key(layout, generation, 0)
    for first in range(0, buckets, TABLE_CHUNK):
        count = min(TABLE_CHUNK, buckets - first)
        taken = np.minimum(rng.poisson(recorded / buckets, count), TABLE_SLOTS)
        slots = np.zeros((count, TABLE_SLOTS, 2), dtype="<u4")
        used = np.arange(TABLE_SLOTS) < taken[:, None]
        slots[..., 0] = np.where(used, rng.integers(1, 2**32, size=(count, TABLE_SLOTS), dtype="<u4"), 0)
        slots[..., 1] = used
        await client.setrange(key, first * TABLE_BUCKET_BYTES, slots.tobytes())
    await client.expireat(key, (generation + 2) * layout.window_seconds + 1)
    for name, value in table_counted(generation, recorded, buckets).items():
        await client.hset(f"{layout.prefix}meta", name, value)


async def index_memory(client: aioredis.Redis, layout: RedisLayout, size: int, base: int) -> Memory:
    """Memory per indexed article (``size`` of them; ``base``: used_memory before the index); each
    kind of hash estimated from a sample of its keys."""
    used = int((await client.info("memory"))["used_memory"]) - base
    sample = random.Random(1)  # noqa: S311 - which keys to sample, not security
    kinds: dict[str, float] = {}
    big: dict[str, float] = {}
    groups: dict[str, list[bytes]] = {}
    for kind, code in KINDS.items():  # the anchors and counts have as many hashes as they grew to
        match = layout.prefix.encode() + code + b"*"
        groups[kind] = [key async for key in client.scan_iter(match=match, count=10_000)]
    for kind, keys in groups.items():
        picked = sample.sample(keys, min(SAMPLED, len(keys)))
        usage = [int(await client.memory_usage(k, samples=0) or 0) for k in picked]
        kinds[kind] = sum(usage) / max(len(picked), 1) * len(keys) / size
        encodings = [await client.object("encoding", k) for k in picked]
        present = [e for e in encodings if e is not None]
        if present and kind not in (
            "anchor tables (a:)",
            "records (r:)",
            "sentence gates (b:)",
        ):  # not hashes
            big[kind] = sum(e == b"hashtable" for e in present) / len(present)
    return Memory(used / size, kinds, big)


async def _count_sweeps(client: aioredis.Redis, layout: RedisLayout) -> tuple[int, int]:
    """The sentence counts' sweep cursor (field ``cc`` of meta: the hash next in turn) and how many
    hashes the family has: hashes swept between two readings are the cursor's move, modulo those
    (fewer than a round in a probe)."""
    meta = await client.hmget(f"{layout.prefix}meta", ["cc", "cl", "cp"])
    cursor, level, split = (int(v) if v is not None else None for v in meta)
    return cursor or 0, 2 ** (16 if level is None else level) + (split or 0)


async def _swept_since(client: aioredis.Redis, layout: RedisLayout, before: tuple[int, int]) -> int:
    cursor, hashes = await _count_sweeps(client, layout)
    return (cursor - before[0]) % hashes


async def _script_us(client: aioredis.Redis) -> float:
    stats = await client.info("commandstats")
    return float(stats.get("cmdstat_evalsha", {}).get("usec", 0))


async def _sweep_cost(client: aioredis.Redis, layout: RedisLayout, now: int) -> float:
    """Script usec per count hash swept: the same counting calls with the clock standing at ``now``
    (no sweep due) and moving (SWEEP_BATCH hashes due a call), their difference over hashes swept."""
    frequency = RedisSentenceFrequency(client, layout)
    calls = 2048  # the moving clock covers 1/8 window: it stays in the probe's generation
    step = SWEEP_BATCH * layout.window_seconds / COUNT_HASHES
    behind = True
    while behind:  # the sweeps still due at `now` first (a slow wire's sweep lags the clock)
        before = await _count_sweeps(client, layout)
        await frequency.count_many([("sweep", [n]) for n in range(PIPELINE)], now=now)
        behind = await _swept_since(client, layout, before) > 0
    usec, swept = [], []
    for moving in (False, True):
        start = await _count_sweeps(client, layout)
        await client.config_resetstat()
        for n in range(calls):
            await frequency.count("sweep", [n], now=now + n * step if moving else now)
        usec.append(await _script_us(client))
        swept.append(await _swept_since(client, layout, start))
    return (usec[1] - usec[0]) / max(swept[1] - swept[0], 1)


async def _probe(
    client: aioredis.Redis,
    layout: RedisLayout,
    events: Sequence[ArticleTagged],
    now: int,
    size: int,
    memory: Memory,
) -> Probe:
    deduplicator = RedisDeduplicator(client, layout)
    judged: list[str] = []
    step = layout.window_seconds / size  # the clock of a wire judging `size` articles a window
    cursor = await _count_sweeps(client, layout)
    await client.config_resetstat()
    redis_before = await _redis_cpu(client)
    cpu = time.process_time()
    for b in range(0, len(events), BATCH):
        for result in await deduplicator.judge_many(events[b : b + BATCH], now=now + b * step):
            if isinstance(result, Exception):
                raise result
            judged.append(f"{result.article.id} {result.verdict.status} {result.verdict.story_id}")
    cpu = time.process_time() - cpu
    redis_cpu = await _redis_cpu(client) - redis_before
    stats = await client.info("commandstats")
    n = len(events)
    swept = await _swept_since(client, layout, cursor)
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
        memory,
        sweeps=swept / n,
    )


async def measure(
    url: str, sizes: Sequence[int], runs: int, shards: int, compact_entries: int = COMPACT_HASH_ENTRIES
) -> dict[int, list[Probe]]:
    docs = generate(data_dir()).docs
    events = _events(docs)
    client = aioredis.Redis.from_url(url, socket_timeout=1200)
    # Redis 6.2's name; Redis 7 takes it as an alias of hash-max-listpack-entries.
    await client.config_set("hash-max-ziplist-entries", compact_entries)
    layout = RedisLayout(shards=shards)
    window = layout.window_seconds
    # The middle of the next generation: the stream never crosses into another one (the probe
    # spans len(events) / size < 1/2 window), and every key's expiry stays in the future.
    now = (int(time.time()) // window + 1) * window + window // 2
    results: dict[int, list[Probe]] = {}
    try:
        for size in sizes:
            if 2 * len(events) >= size:
                raise ValueError(f"index size {size} must exceed twice the stream's {len(events)} articles")
            for run in range(runs):
                await client.flushdb()
                base = int((await client.info("memory"))["used_memory"])
                started = time.perf_counter()
                await preload(client, layout, size, now, np.random.default_rng(7 + run))
                loaded = time.perf_counter() - started
                memory = await index_memory(client, layout, size, base)
                probe = await _probe(client, layout, events, now, size, memory)
                last = now + len(events) * window // size
                probe = replace(probe, sweep_us=await _sweep_cost(client, layout, last))
                results.setdefault(size, []).append(probe)
                print(
                    f"{size:>9,} indexed, run {run + 1} (pre-load {loaded:.0f} s wall): script "
                    f"{probe.script_us:6.1f} us, redis CPU {probe.redis_cpu_us:6.1f} us, process CPU "
                    f"{probe.process_cpu_us:6.0f} us, {probe.calls:.3f} calls, verdicts {probe.verdicts}, "
                    f"memory {memory.used:,.0f} B/article, {probe.sweeps:.3f} count hashes swept "
                    f"per article at {probe.sweep_us:.1f} us each",
                    flush=True,
                )
    finally:
        await client.aclose()
    return results


def report(results: dict[int, list[Probe]]) -> str:
    lines = [
        "| indexed | script µs/article (Redis) | Redis CPU µs/article | process CPU µs/article "
        "| script calls/article | Redis commands/article (top 6) | count hashes swept/article "
        "| script µs per hash swept | verdicts |",
        "|---|---|---|---|---|---|---|---|---|",
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
            f"| {statistics.median([p.sweeps for p in probes]):.3f} | {median([p.sweep_us for p in probes])} "
            f"| {', '.join(sorted({p.verdicts for p in probes}))} |"
        )
    digests = {probe.verdicts for probes in results.values() for probe in probes}
    lines += [
        "",
        "Verdicts on the real stream: the same at every index size and in every run (none of its "
        "articles matched a synthetic one)."
        if len(digests) == 1
        else f"Verdicts on the real stream: {len(digests)} different digests, so some of its articles "
        "matched synthetic ones by chance.",
    ]
    kinds = list(next(iter(results.values()))[0].memory.kinds)
    lines += [
        "",
        "Redis memory per indexed article after the pre-load (B; by kind: sampled `MEMORY USAGE`, "
        "scaled; in brackets the share of sampled hashes past the compact encoding):",
        "",
        "| indexed | used_memory | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for size, probes in results.items():
        memory = probes[0].memory
        cells = [
            f"{memory.kinds[k]:,.0f}" + (f" ({memory.big[k]:.0%})" if k in memory.big else "") for k in kinds
        ]
        lines.append(f"| {size:,} | {memory.used:,.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="index sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (a fresh pre-load each)")
    parser.add_argument("--shards", type=int, default=DEFAULT_SHARDS, help="hashes per kind of index key")
    parser.add_argument(
        "--compact-entries",
        type=int,
        default=COMPACT_HASH_ENTRIES,
        help="Redis's hash-max-ziplist-entries (listpack in Redis 7): the most fields a hash keeps in "
        f"the compact encoding (default: {COMPACT_HASH_ENTRIES}, as newswire's Redis; Redis's own: 512)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with redis_server() as url:
        results = asyncio.run(measure(url, sizes, args.runs, args.shards, args.compact_entries))
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
