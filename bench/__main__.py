"""``python -m bench`` (``make bench``): every part in one run; writes BENCHMARKS.md and the plot.

``--quick``: a short version of every part (a smoke test of the harness, not figures to quote).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from bench import broker, e2e, scale, stages, steady
from bench.articles import load_corpus
from bench.harness import machine, private_redis, redis_version
from bench.report import PLOT_PATH, Target, document, plot, ratio_target, targets_section
from evaluation.common import REPO_ROOT, data_dir

E2E_TARGET = 1_000.0
TRANSPORT_SHARE = 0.70
P99_AT = 200.0
P99_TARGET_MS = 100.0
FLAT_WITHIN = 0.10
MEMORY_AT = 100_000  # where the dedup issue sets its memory goal
DEDUP_RATE_TARGET = 1_500.0  # articles/s through one dedup process (dedup issue)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def targets(
    ends: e2e.Result, alone: stages.Result, big: scale.Result, running: steady.Steady
) -> list[Target]:
    saturated = ends.saturation.figure("throughput").median
    in_process = alone.in_process_summary.median
    found = [
        Target(
            "end to end, one replica per stage",
            f">= {E2E_TARGET:,.0f} articles/s sustained",
            f"{saturated:,.0f} articles/s",
            saturated >= E2E_TARGET,
        ),
        ratio_target(
            "transport overhead",
            f">= {TRANSPORT_SHARE:.0%} of in-process ({in_process:,.0f}/s)",
            saturated / in_process if in_process else math.nan,
            TRANSPORT_SHARE,
            ".0%",
        ),
    ]
    step = ends.at(P99_AT)
    if step is None:
        found.append(Target("latency", f"p99 <= {P99_TARGET_MS:.0f} ms at {P99_AT:.0f}/s", "n/a", None))
    else:
        p99 = step.figure("p99").median
        found.append(
            Target(
                "latency",
                f"p99 <= {P99_TARGET_MS:.0f} ms at {P99_AT:.0f}/s offered",
                f"{p99:,.0f} ms",
                p99 <= P99_TARGET_MS,
            )
        )
    dedup_rate = big.alone.median
    found.append(
        Target(
            "dedup throughput",
            f">= {DEDUP_RATE_TARGET:,.0f} articles/s through one dedup process (dedup issue), "
            f"{big.alone_at:,} indexed, Redis on loopback",
            f"{dedup_rate:,.0f} articles/s",
            None if math.isnan(dedup_rate) else dedup_rate >= DEDUP_RATE_TARGET,
        )
    )
    sizes = sorted(big.rates)
    found += [_scale_target(big, sizes[0], size) for size in sizes[1:]]
    memory_at = MEMORY_AT if MEMORY_AT in big.bytes_per_article else sizes[-1]
    found.append(
        Target(
            "dedup memory",
            f"Redis bytes per indexed article at {MEMORY_AT:,} (dedup issue: <= 1,024 B): index and "
            "per-outlet sentence counts",
            f"{big.memory(memory_at):,.0f} B at {memory_at:,}",
            big.memory(memory_at) <= 1024,
        )
    )
    found.append(
        Target(
            "dedup memory, running",
            f"the same in steady state, {running.size:,} articles a window (`bench.steady`): per live "
            "article, with what the sweeps have not deleted yet (samples during an AOF rewrite apart)",
            f"{running.mean:,.0f} B on average, {running.peak:,.0f} B at most, at "
            f"{running.indexed_per_window:,.0f} articles a window",
            running.peak <= 1024 and running.indexed_per_window >= 0.95 * running.size,
        )
    )
    return found


def _scale_target(big: scale.Result, smallest: int, size: int) -> Target:
    cost, rate = big.cpu_change(size), big.change(at=size)
    return Target(
        "dedup scale",
        f"cost per article flat within {FLAT_WITHIN:.0%} from {smallest:,} to {size:,} indexed: "
        f"CPU at most {FLAT_WITHIN:.0%} more, throughput at most {FLAT_WITHIN:.0%} less",
        f"CPU {cost:+.1%}, throughput {rate:+.1%} (medians of the runs' ratios, sizes side by side)",
        None if math.isnan(cost) or math.isnan(rate) else cost <= FLAT_WITHIN and rate >= -FLAT_WITHIN,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short version of every part")
    parser.add_argument("--million", action="store_true", help="dedup scale up to 1,000,000 indexed")
    args = parser.parse_args(argv)
    started = time.monotonic()
    host = machine()
    corpus = load_corpus(data_dir())
    _log(f"bench: corpus {corpus.origin}; load average {os.getloadavg()}")
    raw = broker.measure(broker.Plan.for_(quick=args.quick))
    _log(f"bench: broker done at {time.monotonic() - started:.0f} s")
    alone = stages.measure(corpus, stages.Plan.for_(quick=args.quick), _log)
    _log(f"bench: stages done at {time.monotonic() - started:.0f} s")
    big = scale.measure(corpus, scale.Plan.for_(quick=args.quick, million=args.million), _log)
    _log(f"bench: scale done at {time.monotonic() - started:.0f} s")
    running = steady.measure(steady.Plan.for_(quick=args.quick, size=MEMORY_AT))
    _log(f"bench: steady state done at {time.monotonic() - started:.0f} s")
    ends = e2e.measure(corpus, e2e.Plan.for_(quick=args.quick), _log)
    _log(f"bench: e2e done at {time.monotonic() - started:.0f} s")
    with private_redis() as server:
        version = redis_version(server)
    plotted = plot(e2e.plot_points(ends), REPO_ROOT / PLOT_PATH)
    figure = (
        f"![latency against offered load]({PLOT_PATH.as_posix()})"
        if plotted
        else "(no plot: matplotlib is not installed; `pip install -e '.[bench]'`)"
    )
    note = (
        f"Written by `make bench`{' --quick (short runs: smoke figures only)' if args.quick else ''} in "
        f"{time.monotonic() - started:.0f} s. Every figure was measured in that run, on a private Redis, "
        "with real service processes; other work on the machine skews them (see the load average)."
    )
    sections = [
        targets_section(targets(ends, alone, big, running)),
        e2e.markdown(ends),
        figure,
        e2e.cpu_markdown(ends, os.cpu_count() or 1),
        stages.markdown(alone),
        broker.markdown(raw),
        scale.markdown(big),
        steady.markdown(running),
    ]
    text = document(note, host.rows(version, os.getloadavg()), sections)
    (REPO_ROOT / "BENCHMARKS.md").write_text(text)
    _log(f"bench: wrote BENCHMARKS.md in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
