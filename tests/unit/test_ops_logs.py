"""`newswire logs`: parsing, filtering and formatting JSON log lines (services/ops/logs.py)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from services.ops.logs import LogFilter, format_record, parse_line, print_logs, select

pytestmark = pytest.mark.unit


def _line(**fields: object) -> str:
    base = {"timestamp": "2026-11-28T10:00:00.123456Z", "level": "info", "service": "tagger"}
    return json.dumps({**base, **fields})


LINES = [
    _line(event="message.processed", article_id="A1", outcome="tagged", deliveries=1),
    _line(event="message.failed", article_id="A2", level="warning", service="dedup", error="boom"),
    _line(
        event="message.processed", article_id="A3", service="dedup", outcome="duplicate", duplicate_of="A1"
    ),
    "not json at all",
]


def test_lines_with_the_up_prefix_parse_like_plain_ones() -> None:
    """`newswire up` prefixes each child's line with its name and a bar; the record is the same."""
    assert parse_line("tagger | " + LINES[0]) == json.loads(LINES[0])
    assert parse_line(LINES[0]) == json.loads(LINES[0])
    assert parse_line("tagger | plain text") is None


def test_filters_by_service_level_and_article() -> None:
    """--service keeps one service, --level drops lower levels, --article keeps the lines about an
    article, including a duplicate that names it."""
    assert len(list(select(LINES, LogFilter(service="dedup")))) == 2
    assert len(list(select(LINES, LogFilter(level="warning")))) == 1
    about_a1 = list(select(LINES, LogFilter(article="A1")))
    assert len(about_a1) == 2 and "A3" in about_a1[1]


def test_unfiltered_output_keeps_non_json_lines() -> None:
    """Without filters, a line that is not JSON is shown as it is; with one it is dropped."""
    assert any("not json at all" in line for line in select(LINES, LogFilter()))
    assert not any("not json at all" in line for line in select(LINES, LogFilter(service="tagger")))


def test_formatted_line_leads_with_time_level_service_event_and_article() -> None:
    """The head of a line is clock time, level, service, event and article id; other fields follow."""
    out = io.StringIO()
    print_logs([LINES[1]], LogFilter(), Console(file=out, width=300, no_color=True))
    text = out.getvalue()
    assert text.startswith("10:00:00.123 WARNING dedup   message.failed A2")
    assert "error=boom" in text
    assert "[" not in format_record({"event": "x", "note": "[red]markup[/red]"}).split("note=")[1][:1]
