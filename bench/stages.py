"""Each stage alone, and the same stage functions in one process (the ceiling transport eats into).

Stage alone: a fresh database, the stage's input stream pre-filled with N messages exactly as the
previous stage publishes them, then only that service is started and its drain timed: (outputs - 1)
over the time from its first to its last output entry (entry ids: Redis's clock), so the process's
start-up is not counted. The tagger's input is published with FastStream as intake does; the outputs
of one stage's run are the input of the next stage's. Intake alone: only intake runs, and the load
generator posts N items as fast as 32 requests in flight allow.

In one process: ``newswire process`` (intake's reading, the tagger, dedup with its in-memory index, the
ninjs document) over a JSONL file of the same kind of items; start-up cancels out: (T(N) - T(1)) / (N - 1).

``python -m bench.stages [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import redis
from faststream.redis import RedisBroker

from bench.articles import Corpus, Item, batch, load_corpus
from bench.harness import ALL, Entry, copy_entries, entries, offer_load, private_redis, services
from bench.stats import Summary, drain_rate, entry_millis
from devstack import REPO_ROOT, wait_for
from devstack.process import ServiceProcess
from evaluation.common import data_dir
from services.intake.normalise import read_input
from services.tagger.service import build_tagger, tag_received
from shared.messages import (
    ARTICLES_DUPLICATES,
    ARTICLES_RECEIVED,
    ARTICLES_TAGGED,
    ARTICLES_UNIQUE,
    ArticleReceived,
)
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER

INTAKE_CONCURRENCY = 32


@dataclass(frozen=True)
class Plan:
    articles: int  # through the tagger, dedup and pusher alone
    intake_articles: int
    in_process_articles: int
    runs: int

    @classmethod
    def for_(cls, *, quick: bool) -> Plan:
        if quick:
            return cls(articles=150, intake_articles=300, in_process_articles=60, runs=1)
        return cls(articles=500, intake_articles=600, in_process_articles=300, runs=3)


@dataclass
class Result:
    alone: dict[str, list[float]] = field(default_factory=dict)
    in_process: list[float] = field(default_factory=list)
    read_rate: float = 0.0
    tag_rate: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)
    articles: int = 0
    calls: dict[str, dict[str, int]] = field(default_factory=dict)  # Redis commands a stage made, last run
    calls_per: dict[str, int] = field(default_factory=dict)  # articles those calls were for, if not all

    def calls_line(self, stage: str) -> str:
        """Redis commands per article a stage alone sent (readiness heartbeats included), biggest first."""
        counted = self.calls.get(stage, {})
        articles = self.calls_per.get(stage, self.articles) or 1
        total = sum(counted.values()) / articles
        top = sorted(counted.items(), key=lambda item: -item[1])[:5]
        return f"{total:.1f} (" + ", ".join(f"{name} {count / articles:.1f}" for name, count in top) + ")"

    def alone_summary(self, stage: str) -> Summary:
        return Summary.of(self.alone.get(stage, []))

    @property
    def in_process_summary(self) -> Summary:
        return Summary.of(self.in_process)


async def _publish_received(url: str, items: Sequence[Item]) -> None:
    """Intake's side of the tagger's input: ``ArticleReceived`` through FastStream, article id header."""
    broker = RedisBroker(url)
    await broker.connect()
    try:
        for item in items:
            article = read_input("json", item.body)
            await broker.publish(
                ArticleReceived(article=article),
                stream=ARTICLES_RECEIVED,
                headers={ARTICLE_ID_HEADER: article.id},
            )
    finally:
        await broker.stop()


def _drain(
    url: str,
    service: str,
    outputs: Sequence[str],
    expected: int,
) -> tuple[float, dict[str, list[Entry]], dict[str, int]]:
    """Start only ``service``, wait until its outputs hold ``expected`` entries, return its rate."""
    return _drain_while(url, lambda: services(url, [service]), service, outputs, expected)


@contextlib.contextmanager
def _plumbing(url: str) -> Iterator[None]:
    """``bench.plumbing`` as a process of its own (as a service: ``-m bench.plumbing dedup``), stopped
    on exit."""
    env = dict(os.environ, NEWSWIRE_REDIS_URL=url, NEWSWIRE_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="newswire-bench-logs-") as folder:
        process = ServiceProcess("dedup", env, Path(folder) / "plumbing.log", module="bench.plumbing")
        process.start()
        try:
            yield
        finally:
            process.stop()


def _drain_while(
    url: str,
    running: Callable[[], AbstractContextManager[object]],
    what: str,
    outputs: Sequence[str],
    expected: int,
) -> tuple[float, dict[str, list[Entry]], dict[str, int]]:
    """Wait while ``running()`` until ``outputs`` hold ``expected`` entries; the rate and calls."""
    client = redis.Redis.from_url(url)

    def total() -> int:
        return sum(int(client.xlen(stream)) for stream in outputs)

    with running():
        client.config_resetstat()  # from here on, commandstats count this process's calls
        wait_for(lambda: total() >= expected, 60 + expected / 10, f"{what} drained {expected}", 0.05)
        calls = {
            name.removeprefix("cmdstat_"): int(stats["calls"])  # type: ignore[index]  # a dict per command
            for name, stats in cast("dict[str, object]", client.info("commandstats")).items()
        }
    produced = {stream: entries(client, stream) for stream in outputs}
    client.close()
    millis = [entry_millis(entry_id) for found in produced.values() for entry_id, _ in found]
    return drain_rate(millis), produced, calls


def _intake_alone(url: str, items: Sequence[Item], work: Path) -> float:
    with services(url, ["intake"]) as stack:
        stack.wait_healthy(60)
        load = offer_load(stack.base_url, [item.body for item in items], 0.0, INTAKE_CONCURRENCY, work)
    return load.accept_rate


def _newswire_process(items: Sequence[Item], work: Path) -> float:
    """Seconds one ``newswire process`` run takes over ``items`` (a JSONL file), start-up included."""
    path = work / "process.jsonl"
    path.write_bytes(b"\n".join(item.body for item in items) + b"\n")
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "services.cli", "process", str(path)],
        cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def _in_process(items: Sequence[Item], result: Result, runs: int, work: Path) -> None:
    # Start-up (imports, the tagger's tables, a first article) cancels out: (T(N) - T(1)) / (N - 1).
    baseline = min(_newswire_process(items[:1], work) for _ in range(2))
    for _ in range(runs):
        seconds = _newswire_process(items, work) - baseline
        result.in_process.append((len(items) - 1) / seconds)
    tagger = build_tagger(Settings())
    started = time.perf_counter()
    articles = [read_input("json", item.body) for item in items]
    result.read_rate = len(articles) / (time.perf_counter() - started)
    tag_received(ArticleReceived(article=articles[0]), tagger)  # first use builds lazy tables
    started = time.perf_counter()
    for article in articles:
        tag_received(ArticleReceived(article=article), tagger)
    result.tag_rate = len(articles) / (time.perf_counter() - started)


def measure(corpus: Corpus, plan: Plan, log: Callable[[str], object] = print) -> Result:
    result = Result(articles=plan.articles)
    items = batch(corpus, plan.articles, seed=101)
    with private_redis() as server, tempfile.TemporaryDirectory(prefix="newswire-bench-") as folder:
        _in_process(batch(corpus, plan.in_process_articles, seed=202), result, plan.runs, Path(folder))
        log(f"in-process: {result.in_process_summary.render(1)} articles/s")
        client = redis.Redis.from_url(server.url)
        for _ in range(plan.runs):
            client.flushdb()
            asyncio.run(_publish_received(server.url, items))
            rate, tagged, calls = _drain(server.url, "tagger", [ARTICLES_TAGGED], len(items))
            result.alone.setdefault("tagger", []).append(rate)
            result.calls["tagger"] = calls

            client.flushdb()
            copy_entries(client, ARTICLES_TAGGED, tagged[ARTICLES_TAGGED])
            rate, judged, calls = _drain(
                server.url, "dedup", [ARTICLES_UNIQUE, ARTICLES_DUPLICATES], len(items)
            )
            result.alone.setdefault("dedup", []).append(rate)
            result.calls["dedup"] = calls
            result.verdicts = {
                "unique": len(judged[ARTICLES_UNIQUE]),
                "duplicate": len(judged[ARTICLES_DUPLICATES]),
            }

            client.flushdb()
            copy_entries(client, ARTICLES_TAGGED, tagged[ARTICLES_TAGGED])
            rate, _, calls = _drain_while(
                server.url, lambda: _plumbing(server.url), "plumbing", [ARTICLES_UNIQUE], len(items)
            )
            result.alone.setdefault("plumbing", []).append(rate)
            result.calls["plumbing"] = calls

            client.flushdb()
            copy_entries(client, ARTICLES_UNIQUE, judged[ARTICLES_UNIQUE])
            rate, _, calls = _drain(server.url, "pusher", [ALL], len(judged[ARTICLES_UNIQUE]))
            result.alone.setdefault("pusher", []).append(rate)
            result.calls["pusher"] = calls
            result.calls_per["pusher"] = len(judged[ARTICLES_UNIQUE])

            client.flushdb()
            posted = batch(corpus, plan.intake_articles, seed=303)
            result.alone.setdefault("intake", []).append(_intake_alone(server.url, posted, Path(folder)))
            log("stages alone: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in result.alone.items()))
        client.close()
    return result


def markdown(result: Result) -> str:
    rows = [
        f"| intake alone (real process, POSTs, no consumers) | {result.alone_summary('intake').render(0)} | |"
    ]
    names = {
        "tagger": "tagger alone (real process, pre-filled input)",
        "dedup": "dedup alone (real process, pre-filled input)",
        "plumbing": "dedup's plumbing alone: the same input, stage and outputs, judging nothing "
        "(`bench.plumbing`)",
        "pusher": "pusher alone (real process, pre-filled input)",
    }
    rows += [
        f"| {name} | {result.alone_summary(stage).render(0)} | {result.calls_line(stage)} |"
        for stage, name in names.items()
    ]
    verdicts = ", ".join(f"{count} {name}" for name, count in result.verdicts.items())
    return "\n".join(
        [
            "## Each stage alone, and in one process",
            "",
            f"Stage alone: {result.articles} articles pre-filled as the previous stage publishes them "
            f"(dedup's verdicts on them: {verdicts}; the pusher drains the unique ones); intake alone: "
            f"POSTs with {INTAKE_CONCURRENCY} in flight, no consumers running. Dedup's plumbing: a "
            "process reading dedup's input through the same stage, publishing every article as a "
            "story of its own (decode, outputs, status record, log line, ack): what one process "
            "drains before dedup's own work costs anything. In one process: "
            "`newswire process` on a JSONL file of the same kind of items (one core, in-memory dedup "
            "index, no Redis), start-up cancelled out as (T(N) - T(1)) / (N - 1). "
            "Median (min-max) of the runs.",
            "",
            "| what | articles/s | Redis commands per article, last run (incl. those inside Lua scripts) |",
            "|---|---|---|",
            *rows,
            f"| all stage functions in one process (`newswire process`) "
            f"| {result.in_process_summary.render(0)} | 0 |",
            f"| of which intake's reading alone (`read_input`), one pass | {result.read_rate:,.0f} | |",
            f"| of which tagging alone (`tag_received`), one pass | {result.tag_rate:,.0f} | |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer articles, one run")
    args = parser.parse_args(argv)
    print(markdown(measure(load_corpus(data_dir()), Plan.for_(quick=args.quick))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
