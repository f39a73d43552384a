"""End to end: the four services as real processes on a private Redis, one replica each.

Articles are offered over HTTP by the load generator process at fixed rates and then far above
capacity (saturation). Latency is from intake's 202 (the load generator's clock) to the article's entry
in ``newswire:topic:all`` (the entry id's millisecond time, Redis's clock; same machine). Throughput is
articles completed (delivered, or judged duplicate) per second from the first 202 to the last arrival.

``python -m bench.e2e [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.articles import Corpus, batch, load_corpus
from bench.harness import (
    ArrivalReader,
    offer_load,
    private_redis,
    process_cpu_seconds,
    redis_cpu_seconds,
    services,
)
from bench.stats import Ledger, Summary, match, percentile
from devstack import SERVICES, wait_for
from evaluation.common import data_dir

FIXED_LOADS = (25.0, 50.0, 100.0, 200.0)
SATURATION_RATE = 1000.0  # the target; offered for a short burst, far above what one replica each takes
CONCURRENCY = 64
RUNS = 3


@dataclass(frozen=True)
class Plan:
    loads: tuple[float, ...]
    step_seconds: float
    saturation_seconds: float
    runs: int

    @classmethod
    def for_(cls, *, quick: bool) -> Plan:
        if quick:
            return cls(loads=(50.0, 200.0), step_seconds=2.0, saturation_seconds=1.0, runs=1)
        return cls(loads=FIXED_LOADS, step_seconds=5.0, saturation_seconds=1.5, runs=RUNS)


class CpuMeter:
    """CPU time used so far by each service process and by Redis: per article, where the time goes."""

    def __init__(self, pids: dict[str, int], redis_url: str) -> None:
        self._pids = pids
        self._client = redis.Redis.from_url(redis_url)

    def read(self) -> dict[str, float]:
        seconds = {name: process_cpu_seconds(pid) for name, pid in self._pids.items()}
        seconds["redis"] = redis_cpu_seconds(self._client)
        return seconds

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class Run:
    offered: float
    ledger: Ledger
    accept_rate: float
    intake_p99_ms: float
    errors: dict[str, int]
    cpu_ms: dict[str, float]  # CPU milliseconds per accepted article, per process (and Redis)

    @property
    def completion_rate(self) -> float:
        return self.ledger.throughput()


@dataclass
class Step:
    label: str
    offered: float
    saturation: bool
    runs: list[Run] = field(default_factory=list)

    def figure(self, name: str) -> Summary:
        values = {
            "p50": lambda run: percentile(run.ledger.latencies_ms, 50),
            "p95": lambda run: percentile(run.ledger.latencies_ms, 95),
            "p99": lambda run: percentile(run.ledger.latencies_ms, 99),
            "throughput": lambda run: run.completion_rate,
            "accepted": lambda run: run.accept_rate,
            "intake_p99": lambda run: run.intake_p99_ms,
        }[name]
        return Summary.of(values(run) for run in self.runs)

    def totals(self) -> dict[str, int]:
        return {
            "accepted": sum(len(run.ledger.latencies_ms) + run.ledger.duplicates for run in self.runs)
            + sum(len(run.ledger.missing) for run in self.runs),
            "delivered": sum(run.ledger.delivered for run in self.runs),
            "duplicates": sum(run.ledger.duplicates for run in self.runs),
            "missing": sum(len(run.ledger.missing) for run in self.runs),
            "repeated": sum(run.ledger.repeated for run in self.runs),
            "errors": sum(sum(run.errors.values()) for run in self.runs),
        }


@dataclass(frozen=True)
class Result:
    steps: tuple[Step, ...]
    corpus: str

    @property
    def saturation(self) -> Step:
        return next(step for step in self.steps if step.saturation)

    def at(self, offered: float) -> Step | None:
        return next((s for s in self.steps if not s.saturation and s.offered == offered), None)


def _one_run(
    reader: ArrivalReader, meter: CpuMeter, base_url: str, bodies: Sequence[bytes], rate: float, work: Path
) -> Run:
    before = meter.read()
    load = offer_load(base_url, bodies, rate, CONCURRENCY, work)
    ids = {sent.article_id for sent in load.sent}
    # Drain: the slowest stage does ~100 articles/s here; a generous bound still ends a stuck run.
    timeout = max(20.0, len(ids) / 40)
    with contextlib.suppress(TimeoutError):  # what did not arrive is counted as missing by the ledger
        wait_for(lambda: reader.count_of(ids) >= len(ids), timeout, "all articles at the end", 0.05)
    after = meter.read()
    cpu_ms = {name: (after[name] - before[name]) * 1000 / max(1, len(ids)) for name in after}
    ledger = match(load.sent, reader.arrivals())
    return Run(rate, ledger, load.accept_rate, percentile(load.intake_ms, 99), load.errors, cpu_ms)


def measure(corpus: Corpus, plan: Plan, log: Callable[[str], object] = print) -> Result:
    steps = [Step(f"{rate:,.0f}", rate, saturation=False) for rate in plan.loads]
    steps.append(Step(f"saturation (offered {SATURATION_RATE:,.0f}/s)", SATURATION_RATE, saturation=True))
    seed = 1
    with (
        private_redis() as server,
        services(server.url, SERVICES) as stack,
        tempfile.TemporaryDirectory(prefix="newswire-bench-load-") as folder,
    ):
        stack.wait_ready(120)
        pids = {label: service.process.pid for label, service in stack.services.items() if service.process}
        meter = CpuMeter(pids, server.url)
        with ArrivalReader(server.url) as reader, contextlib.closing(meter):
            # Warm-up: first messages pay for lazy set-up in every process; not measured.
            warm_up = [i.body for i in batch(corpus, 30, seed=0)]
            _one_run(reader, meter, stack.base_url, warm_up, 30, Path(folder))
            for step in steps:
                seconds = plan.saturation_seconds if step.saturation else plan.step_seconds
                for _ in range(plan.runs):
                    items = batch(corpus, max(10, round(step.offered * seconds)), seed=seed)
                    seed += 1
                    run = _one_run(
                        reader, meter, stack.base_url, [i.body for i in items], step.offered, Path(folder)
                    )
                    step.runs.append(run)
                    log(
                        f"e2e {step.label}: {run.completion_rate:,.1f}/s completed, "
                        f"p99 {percentile(run.ledger.latencies_ms, 99):,.0f} ms, "
                        f"missing {len(run.ledger.missing)}"
                    )
                    time.sleep(0.5)
    return Result(tuple(steps), corpus.origin)


def markdown(result: Result) -> str:
    rows = []
    for step in result.steps:
        totals = step.totals()
        rows.append(
            f"| {step.label} | {step.figure('accepted').render(0)} | {step.figure('throughput').render(0)} "
            f"| {step.figure('p50').render(0)} | {step.figure('p95').render(0)} "
            f"| {step.figure('p99').render(0)} "
            f"| {step.figure('intake_p99').render(0)} | {totals['delivered']:,} / {totals['duplicates']:,} "
            f"| {totals['missing']} / {totals['repeated']} / {totals['errors']} |"
        )
    runs = len(result.steps[0].runs) if result.steps else 0
    return "\n".join(
        [
            "## End to end (four services, one replica each)",
            "",
            f"Input: {result.corpus}; 80% distinct stories, 20% republished copies of an earlier one "
            "(half word for word, half with site name, junk line and byline). Offered as JSON items by a "
            "separate load-generator process (a lean asyncio HTTP/1.1 client, keep-alive, "
            f"at most {CONCURRENCY} requests in flight, "
            f"open loop at the offered rate). Each step runs {runs} time(s); figures are the median "
            "(min-max) of the runs. Latency: 202 to the entry in `newswire:topic:all`, unique articles "
            "only (duplicates never reach subscribers); 1 ms resolution. Above capacity a step's latency "
            "grows with its length (a finite burst) and part of the queue waits in front of intake "
            "(see intake's own 202 p99), so those rows say 'over capacity', not a steady state.",
            "",
            "| offered (articles/s) | accepted/s | completed/s (end to end) | p50 ms | p95 ms | p99 ms "
            "| intake 202 p99 ms | delivered / duplicates | missing / repeated / HTTP errors |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


def cpu_markdown(result: Result, cores: int) -> str:
    """Where the CPU goes at saturation: milliseconds per article in each process and in Redis."""
    runs = result.saturation.runs
    if not runs:
        return ""
    names = list(runs[0].cpu_ms)
    per = {name: Summary.of(run.cpu_ms[name] for run in runs) for name in names}
    total = Summary.of(sum(run.cpu_ms.values()) for run in runs)
    rows = [f"| {name} | {per[name].render(2)} | {per[name].median / total.median:.0%} |" for name in names]
    ceiling = cores * 1000 / total.median
    return "\n".join(
        [
            "### Where the CPU goes (saturation runs)",
            "",
            "CPU time (user + system) each service process and the Redis server used from the first "
            "request of a run until its last article arrived, divided by the articles accepted in it "
            "(the load generator, a separate process on the same cores, is not counted). The sum "
            f"bounds the pipeline on this machine: {cores} cores / {total.median:.2f} ms = "
            f"**{ceiling:,.0f} articles/s** at most, if every core did nothing but this.",
            "",
            "| process | CPU ms per article | share |",
            "|---|---|---|",
            *rows,
            f"| **all** | **{total.render(2)}** | 100% |",
        ]
    )


def plot_points(result: Result) -> list[tuple[float, Summary, Summary, Summary, bool]]:
    return [
        (step.offered, step.figure("p50"), step.figure("p95"), step.figure("p99"), step.saturation)
        for step in result.steps
        if not math.isnan(step.figure("p50").median)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short run per step")
    args = parser.parse_args(argv)
    result = measure(load_corpus(data_dir()), Plan.for_(quick=args.quick))
    print(markdown(result))
    print()
    print(cpu_markdown(result, os.cpu_count() or 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
