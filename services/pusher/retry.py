"""When to try a webhook again: pure decisions about one attempt's outcome.

2xx is a success; anything else, redirects included (never followed), is a failure; 410 Gone
disables the endpoint. After attempt ``n`` fails, the next waits a uniform random time in
``0..schedule[n-1]`` (full jitter: many deliveries failing together do not retry together), or at
least what ``Retry-After`` asked for (capped at a day); past the schedule the delivery is dead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

RETRY_AFTER_CAP_S = 86_400.0

Outcome = Literal["success", "failure", "gone"]


def classify(status: int | None) -> Outcome:
    """What an HTTP status (None: no answer at all) means for the delivery."""
    if status is not None and 200 <= status < 300:
        return "success"
    if status == 410:
        return "gone"
    return "failure"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP_S)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(0.0, moment.timestamp() - now), RETRY_AFTER_CAP_S)


@dataclass(frozen=True)
class RetryPolicy:
    schedule: Sequence[float]
    uniform: Callable[[float, float], float] = random.uniform

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay_after(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds until the next attempt after ``attempts`` failed ones; None: give up."""
        if attempts < 1:
            raise ValueError("attempts counts the attempts made, starting at 1")
        if attempts > len(self.schedule):
            return None
        wait = self.uniform(0.0, float(self.schedule[attempts - 1]))
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


def iso_timestamp(epoch_ms: int) -> str:
    return (
        datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
