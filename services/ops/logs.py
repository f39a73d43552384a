"""``newswire logs``: the services' JSON log lines, readable, filtered by service, level and article.

Reads files or stdin; takes plain JSON lines and the ``name   | {...}`` lines ``newswire up``
prints. Lines that are not JSON are passed through unless a filter is set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

LEVELS = ("debug", "info", "warning", "error", "critical")
LEVEL_STYLES = {"debug": "dim", "info": "green", "warning": "yellow", "error": "red", "critical": "bold red"}
HEADER_KEYS = ("timestamp", "level", "service", "event", "article_id")


@dataclass(frozen=True)
class LogFilter:
    service: str | None = None
    level: str | None = None  # the lowest level shown
    article: str | None = None

    @property
    def active(self) -> bool:
        return any((self.service, self.level, self.article))

    def accepts(self, record: dict[str, Any]) -> bool:
        if self.service and record.get("service") != self.service:
            return False
        if self.level:
            level = str(record.get("level", "info")).lower()
            if level in LEVELS and LEVELS.index(level) < LEVELS.index(self.level):
                return False
        return not (self.article and self.article not in _article_ids(record))


def _article_ids(record: dict[str, Any]) -> set[str]:
    # The article a line is about, and the ones it names (a duplicate names what it duplicates).
    return {str(record.get(key)) for key in ("article_id", "duplicate_of") if record.get(key)}


def parse_line(line: str) -> dict[str, Any] | None:
    """The JSON record of a log line (plain, or with ``newswire up``'s ``name | `` prefix), or None."""
    text = line.strip()
    if not text.startswith("{"):
        _, bar, rest = text.partition("| ")
        if not bar or not rest.lstrip().startswith("{"):
            return None
        text = rest.strip()
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def format_record(record: dict[str, Any]) -> str:
    """One rich-markup line: time, level, service, event, article, then the other fields."""
    timestamp = str(record.get("timestamp", ""))
    clock = timestamp[11:23] if len(timestamp) >= 23 else timestamp
    level = str(record.get("level", "")).lower()
    style = LEVEL_STYLES.get(level, "")
    head = f"{clock} [{style}]{level.upper():<7}[/{style}] " if style else f"{clock} {level.upper():<7} "
    service, event = escape(str(record.get("service", "-"))), escape(str(record.get("event", "")))
    head += f"[cyan]{service:<7}[/cyan] [bold]{event}[/bold]"
    if record.get("article_id"):
        head += f" [magenta]{escape(str(record['article_id']))}[/magenta]"
    rest = " ".join(
        f"{key}={escape(json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value)}"
        for key, value in record.items()
        if key not in HEADER_KEYS and key != "exception"
    )
    line = f"{head} [dim]{rest}[/dim]" if rest else head
    if record.get("exception"):
        line += "\n" + escape(str(record["exception"]))
    return line


def select(lines: Iterable[str], wanted: LogFilter) -> Iterator[str]:
    """Formatted lines for the records the filter accepts (raw lines too when no filter is set)."""
    for line in lines:
        record = parse_line(line)
        if record is None:
            if not wanted.active and line.strip():
                yield escape(line.rstrip("\n"))
            continue
        if wanted.accepts(record):
            yield format_record(record)


def print_logs(lines: Iterable[str], wanted: LogFilter, console: Console) -> int:
    shown = 0
    for formatted in select(lines, wanted):
        console.print(formatted, highlight=False, soft_wrap=True)
        shown += 1
    return shown
