"""``make eval``: run every quality evaluation against ../shared/data and write EVAL.md.

Each evaluation module has ``run(data) -> str`` (a Markdown section). One whose data is absent
says so instead of failing: a user's clone has no ../shared.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
from datetime import UTC, datetime

from evaluation.common import REPO_ROOT, DataMissingError, data_dir

EVALUATIONS = ("pages", "tagging", "dedup")


def main() -> int:
    data = data_dir()
    sections = [
        "# Evaluation\n",
        f"Written by `make eval` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {platform.machine()}, against `{data}`. Every figure below was "
        "measured in that run.\n",
    ]
    for name in EVALUATIONS:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"evaluation.{name}")
            section = module.run(data)
        except DataMissingError as missing:
            section = f"## {name}\n\nSkipped: {missing}\n"
        except ModuleNotFoundError as error:
            if error.name != f"evaluation.{name}":
                raise
            section = f"## {name}\n\nNot written yet.\n"
        elapsed = time.perf_counter() - started
        print(section, flush=True)
        print(f"({name}: {elapsed:.1f} s)\n", file=sys.stderr, flush=True)
        sections.append(section)
    (REPO_ROOT / "EVAL.md").write_text("\n".join(sections))
    print(f"wrote {REPO_ROOT / 'EVAL.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
