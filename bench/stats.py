"""The arithmetic of the benchmark: percentiles, median-of-runs summaries, and the ledger that matches
what the load generator was told (202 + id) with what reached the subscriber stream."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        msg = f"percentile must be within 0..100, not {q}"
        raise ValueError(msg)
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """One figure over several runs: the median, with the smallest and largest run."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        finite = [value for value in values if not math.isnan(value)]
        if not finite:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(statistics.median(finite), min(finite), max(finite), len(finite))

    def render(self, digits: int = 0) -> str:
        """``median (min-max)``; a single run shows only its value."""
        if self.runs == 0:
            return "n/a"
        median = f"{self.median:,.{digits}f}"
        if self.runs == 1:
            return median
        return f"{median} ({self.low:,.{digits}f}-{self.high:,.{digits}f})"


@dataclass(frozen=True)
class Sent:
    """One article the load generator had accepted: intake's id and when the 202 arrived (epoch s)."""

    article_id: str
    accepted_at: float


@dataclass(frozen=True)
class Arrival:
    """One article seen at the end of the pipeline: a subscriber entry or an audit duplicate."""

    article_id: str
    entry_ms: int  # the stream entry id's millisecond part: Redis's clock when the entry was added
    delivered: bool  # True: newswire:topic:all; False: articles.duplicates (never reaches subscribers)


def entry_millis(entry_id: str | bytes) -> int:
    """The millisecond time of a stream entry id such as ``1700000000123-0``."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


@dataclass(frozen=True)
class Ledger:
    """Accepted articles matched with their arrivals."""

    latencies_ms: tuple[float, ...]  # 202 to subscriber entry, delivered articles only
    delivered: int
    duplicates: int
    missing: tuple[str, ...]  # accepted, never arrived
    repeated: int  # arrivals beyond the first for one article (a subscriber would see it twice)
    first_accept: float
    last_arrival: float

    @property
    def completed(self) -> int:
        return self.delivered + self.duplicates

    def throughput(self) -> float:
        """Articles completed per second, from the first 202 to the last arrival."""
        span = self.last_arrival - self.first_accept
        return self.completed / span if span > 0 else math.nan


def match(sent: Sequence[Sent], arrivals: Iterable[Arrival]) -> Ledger:
    """Match accepted articles with their first arrival; arrivals of other articles are ignored."""
    accepted: Mapping[str, float] = {item.article_id: item.accepted_at for item in sent}
    first: dict[str, Arrival] = {}
    repeated = 0
    for arrival in arrivals:
        if arrival.article_id not in accepted:
            continue
        if arrival.article_id in first:
            repeated += 1
            continue
        first[arrival.article_id] = arrival
    latencies = tuple(
        max(0.0, arrival.entry_ms - accepted[article_id] * 1000)
        for article_id, arrival in first.items()
        if arrival.delivered
    )
    delivered = sum(1 for arrival in first.values() if arrival.delivered)
    return Ledger(
        latencies_ms=latencies,
        delivered=delivered,
        duplicates=len(first) - delivered,
        missing=tuple(item.article_id for item in sent if item.article_id not in first),
        repeated=repeated,
        first_accept=min((item.accepted_at for item in sent), default=math.nan),
        last_arrival=max((arrival.entry_ms / 1000 for arrival in first.values()), default=math.nan),
    )


def overlapping_rates(entry_ms: Mapping[K, Sequence[int]]) -> dict[K, float]:
    """Per key, its entries per second while every key's drain was under way: from the latest of
    their first entries to the earliest of their last. Drains side by side share the machine only
    then; before and after it, one of them has the cores to itself."""
    start = max(min(times) for times in entry_ms.values())
    end = min(max(times) for times in entry_ms.values())
    if end <= start:
        return dict.fromkeys(entry_ms, math.nan)
    span = (end - start) / 1000
    return {key: sum(start < ms <= end for ms in times) / span for key, times in entry_ms.items()}


def drain_rate(entry_ms: Sequence[int]) -> float:
    """Entries per second between the first and the last of a stage's output entries (startup excluded)."""
    if len(entry_ms) < 2:
        return math.nan
    span = (max(entry_ms) - min(entry_ms)) / 1000
    return (len(entry_ms) - 1) / span if span > 0 else math.nan
