"""BENCHMARKS.md and the latency plot: the figures of one run against the targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.stats import Summary

PLOT_PATH = Path("docs") / "bench-latency.png"


@dataclass(frozen=True)
class Target:
    """One performance target, what was measured for it and whether it is met."""

    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_section(targets: Sequence[Target]) -> str:
    return "\n".join(
        [
            "## Targets",
            "",
            table(
                ("target", "goal", "measured (median of the runs)", "verdict"),
                [(t.name, t.goal, t.measured, t.verdict) for t in targets],
            ),
        ]
    )


def document(title_note: str, machine_rows: Sequence[tuple[str, str]], sections: Sequence[str]) -> str:
    """The whole BENCHMARKS.md."""
    return (
        "\n\n".join(
            [
                "# Benchmarks",
                title_note,
                "## Machine",
                table(("", ""), machine_rows),
                *sections,
            ]
        )
        + "\n"
    )


def ratio_target(name: str, goal: str, value: float, threshold: float, fmt: str) -> Target:
    if math.isnan(value):
        return Target(name, goal, "n/a", None)
    return Target(name, goal, format(value, fmt), value >= threshold)


def plot(points: Sequence[tuple[float, Summary, Summary, Summary, bool]], path: Path) -> bool:
    """p50/p95/p99 latency against offered load (log-log); False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    offered = [p[0] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for index, (name, style) in enumerate((("p50", "o-"), ("p95", "s-"), ("p99", "^-")), start=1):
        medians = [p[index].median for p in points]  # type: ignore[union-attr]  # Summary at 1..3
        lows = [p[index].median - p[index].low for p in points]  # type: ignore[union-attr]
        highs = [p[index].high - p[index].median for p in points]  # type: ignore[union-attr]
        ax.errorbar(offered, medians, yerr=[lows, highs], fmt=style, capsize=3, label=name)
    ax.axhline(100, color="grey", linestyle="--", linewidth=1, label="p99 target (100 ms at 200/s)")
    for value, p50, *_, saturation in points:
        if saturation:
            ax.annotate(
                "saturation burst", (value, p50.median), textcoords="offset points", xytext=(-60, -18)
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (articles/s)")
    ax.set_ylabel("202 to subscriber stream (ms)")
    ax.set_title("newswire end-to-end latency (median of runs, bars: min-max)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
