"""Retry decisions for webhooks: outcomes, the jittered schedule, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from services.pusher.retry import RETRY_AFTER_CAP_S, RetryPolicy, classify, parse_retry_after
from shared.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "success"), (204, "success"), (299, "success"), (301, "failure"), (302, "failure"),
     (304, "failure"), (400, "failure"), (410, "gone"), (429, "failure"), (500, "failure"),
     (None, "failure")],
)  # fmt: skip
def test_only_2xx_succeeds_redirects_fail_and_410_is_gone(status: int | None, outcome: str) -> None:
    """2xx succeeds; a redirect or any other status (or no answer) fails; 410 disables."""
    assert classify(status) == outcome


def test_each_wait_is_uniform_up_to_its_bound_and_the_schedule_ends() -> None:
    """Full jitter: waits fall in 0..bound of their attempt; after the last bound: give up."""
    policy = RetryPolicy((1.0, 10.0, 100.0), uniform=random.Random(7).uniform)
    for attempts, bound in enumerate((1.0, 10.0, 100.0), start=1):
        waits = [policy.delay_after(attempts) for _ in range(200)]
        assert all(w is not None and 0 <= w <= bound for w in waits)
        assert max(w for w in waits if w is not None) > bound * 0.9  # really spread, not a constant
    assert policy.delay_after(4) is None
    assert policy.max_attempts == 4


def test_retry_after_is_a_floor_on_the_wait() -> None:
    """A Retry-After longer than the jittered wait is honoured; a shorter one does not shorten it."""
    policy = RetryPolicy((10.0,), uniform=lambda low, high: high / 2)
    assert policy.delay_after(1, retry_after=60.0) == 60.0
    assert policy.delay_after(1, retry_after=1.0) == 5.0


def test_retry_after_reads_seconds_and_http_dates_and_ignores_junk() -> None:
    """Delta-seconds and an HTTP date both give seconds from now (capped at a day); junk gives None."""
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("120", now) == 120.0
    assert (
        parse_retry_after(format_datetime(datetime(2026, 11, 27, 12, 5, tzinfo=UTC), usegmt=True), now) == 300
    )
    assert parse_retry_after("999999999", now) == RETRY_AFTER_CAP_S
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_default_schedule_spans_about_three_days_on_average() -> None:
    """With full jitter the expected total wait is half the bounds: about three days."""
    bounds = Settings().webhook_retry_schedule_s
    expected_days = sum(bounds) / 2 / 86_400
    assert 2.5 < expected_days < 3.5
    assert bounds[0] <= 10 and bounds == tuple(sorted(bounds))  # seconds first, then hours


def test_schedule_is_configurable_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSWIRE_WEBHOOK_RETRY_SCHEDULE_S takes comma-separated seconds."""
    monkeypatch.setenv("NEWSWIRE_WEBHOOK_RETRY_SCHEDULE_S", "0.5, 1,2")
    assert Settings().webhook_retry_schedule_s == (0.5, 1.0, 2.0)
