"""FastStream's fetch error caused by our own stop stays out of the error log; real ones do not."""

from __future__ import annotations

import logging

import pytest

from shared.stage import StopNoiseFilter

pytestmark = pytest.mark.unit


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("newswire.faststream", logging.ERROR, __file__, 1, message, None, None)


def test_fetch_error_while_running_is_kept() -> None:
    """A fetch error while the service runs is a real fault and is logged."""
    assert StopNoiseFilter().filter(_record("Message fetch error")) is True


def test_fetch_error_while_stopping_is_dropped() -> None:
    """Once the service is stopping, the fetch error from closing the pool is dropped."""
    noise = StopNoiseFilter()
    noise.stopping = True
    assert noise.filter(_record("Message fetch error")) is False


def test_other_errors_while_stopping_are_kept() -> None:
    """Only that one message is dropped during a stop; other errors still reach the log."""
    noise = StopNoiseFilter()
    noise.stopping = True
    assert noise.filter(_record("Consumer group vanished")) is True
