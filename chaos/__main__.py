"""``python -m chaos [FAULT ...]``: run the faults (all by default) and print the ledger table."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chaos.faults import FAULTS, FaultResult, burst
from shared.logging import configure_logging


def table(results: list[FaultResult]) -> Table:
    out = Table(title="newswire fault suite: the ledger after each fault and a drain", title_justify="left")
    columns = (
        "fault",
        "in",
        "accepted",
        "delivered",
        "lost",
        "duplicated",
        "unexpected",
        "recovery s",
        "result",
    )
    for column in columns:
        out.add_column(column, justify="left" if column in {"fault", "result"} else "right")
    for result in results:
        f = result.figures
        recovery = f"{result.recovery_s:.1f}" if result.recovery_s is not None else "never"
        verdict = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
        out.add_row(result.name, str(f.attempted), str(f.accepted), str(f.delivered), str(f.lost),
                    str(f.duplicated), str(f.unexpected), recovery, verdict)  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("faults", nargs="*", help="some of --list (default: all)")
    parser.add_argument("--list", action="store_true", help="name the faults and exit")
    parser.add_argument("--burst", type=int, default=10_000, help="articles in the burst (default 10000)")
    parser.add_argument("--workdir", type=Path, help="keep logs and Redis data here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(FAULTS))
        return 0
    configure_logging("chaos", level="WARNING", log_format="console")
    faults = dict(FAULTS, burst=burst(args.burst))
    chosen = args.faults or list(faults)
    unknown = [name for name in chosen if name not in faults]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; see --list")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newswire-chaos-"))
    console = Console(width=None if sys.stdout.isatty() else 140)
    results = []
    for name in chosen:
        started = time.monotonic()
        console.print(f"[bold]fault {name}[/bold] ...")
        result = faults[name](workdir)
        results.append(result)
        for check, ok in result.checks.items():
            console.print(f"  {'ok ' if ok else 'NOT'} {check}")
        for note in result.notes:
            console.print(f"  {note}")
        console.print(f"  {time.monotonic() - started:.0f} s, logs under {workdir}")
    console.print(table(results))
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
