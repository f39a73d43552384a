"""Log lines: JSON off a terminal, with timestamp, level, service, event and the article in context."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from shared.logging import configure_logging

pytestmark = pytest.mark.unit


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("tagger", level="DEBUG", log_format="json", stream=stream)
    yield stream
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_lines_are_json_with_the_required_keys(captured: io.StringIO) -> None:
    """Every line has timestamp, level, service and event; bound article_id rides along."""
    structlog.contextvars.bind_contextvars(article_id="01ABC", stage="tagger")
    structlog.stdlib.get_logger("t").info("message.processed", outcome="tagged")
    (line,) = _lines(captured)
    assert line["event"] == "message.processed"
    assert line["level"] == "info"
    assert line["service"] == "tagger"
    assert line["article_id"] == "01ABC"
    assert line["timestamp"].endswith("Z")


def test_stdlib_lines_go_through_the_same_processors(captured: io.StringIO) -> None:
    """A line from a stdlib logger (FastStream, uvicorn) is JSON with the same keys."""
    structlog.contextvars.bind_contextvars(article_id="01XYZ")
    logging.getLogger("faststream").warning("Message fetch error")
    (line,) = _lines(captured)
    assert (line["event"], line["level"], line["service"], line["article_id"]) == (
        "Message fetch error",
        "warning",
        "tagger",
        "01XYZ",
    )


def test_bodies_and_secrets_are_redacted(captured: io.StringIO) -> None:
    """Keys that would carry article bodies or secrets never reach the line in clear."""
    structlog.stdlib.get_logger("t").info("oops", body="Der volle Text", api_key="k-123", secret="whsec_x")  # noqa: S106 (a planted canary)
    (line,) = _lines(captured)
    assert "Der volle Text" not in captured.getvalue()
    assert line["api_key"] == line["secret"] == line["body"] == "[redacted]"


def test_console_tracebacks_leave_out_the_frames_locals() -> None:
    """On a terminal a failure's traceback is shown, but not its frames' local variables: they may
    hold an article's body or a key."""
    stream = io.StringIO()
    configure_logging("tagger", log_format="console", stream=stream)
    planted = " ".join(("Der", "volle", "Text"))  # built, so the traceback's source lines do not show it

    def fail(body: str) -> None:
        raise ValueError("cannot tag")

    try:
        fail(planted)
    except ValueError as error:
        structlog.stdlib.get_logger("t").warning("message.failed", exc_info=error)
    assert "cannot tag" in stream.getvalue()
    assert planted not in stream.getvalue()
