"""The benchmark's arithmetic: percentiles, run summaries, ledger matching, drain rates, markdown."""

from __future__ import annotations

import math

import pytest

from bench.report import Target, table, targets_section
from bench.scale import Result, Usage
from bench.stats import (
    Arrival,
    Sent,
    Summary,
    drain_rate,
    entry_millis,
    match,
    overlapping_rates,
    percentile,
)

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_closest_ranks() -> None:
    """p50 of an even count is the mean of the middle two; p0/p100 are the extremes; p99 of 1..100
    lies between the two largest values (numpy's linear method)."""
    values = [float(v) for v in range(1, 101)]
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 99) == pytest.approx(99.01)


def test_percentile_of_nothing_is_nan_and_out_of_range_is_an_error() -> None:
    """No values give NaN (a step with no delivered article); a percentile outside 0..100 is refused."""
    assert math.isnan(percentile([], 99))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summary_is_median_with_min_and_max_ignoring_nan() -> None:
    """Several runs summarise as median (min-max); NaN runs do not count; one run shows its value."""
    summary = Summary.of([30.0, 10.0, math.nan, 20.0])
    assert (summary.median, summary.low, summary.high, summary.runs) == (20.0, 10.0, 30.0, 3)
    assert summary.render() == "20 (10-30)"
    assert Summary.of([1234.5]).render(1) == "1,234.5"
    assert Summary.of([math.nan]).render() == "n/a"


def test_entry_millis_reads_the_time_part_of_a_stream_id() -> None:
    """A stream entry id's first part is its millisecond time, given as str or bytes."""
    assert entry_millis("1700000000123-7") == 1_700_000_000_123
    assert entry_millis(b"5-0") == 5


def test_ledger_matches_accepted_articles_with_their_first_arrival() -> None:
    """Latency is the entry's time minus the 202's, for delivered articles only; a duplicate counts
    as completed without a latency; a second arrival of one article is counted as repeated; arrivals
    of articles this run did not send are ignored; an article that never arrived is missing."""
    sent = [Sent("a", 100.000), Sent("b", 100.010), Sent("c", 100.020), Sent("d", 100.030)]
    arrivals = [
        Arrival("a", 100_050, delivered=True),
        Arrival("other", 100_060, delivered=True),
        Arrival("b", 100_070, delivered=False),
        Arrival("a", 100_080, delivered=True),
        Arrival("c", 100_120, delivered=True),
    ]
    ledger = match(sent, arrivals)
    assert sorted(ledger.latencies_ms) == pytest.approx([50.0, 100.0])
    assert (ledger.delivered, ledger.duplicates, ledger.repeated) == (2, 1, 1)
    assert ledger.missing == ("d",)
    assert ledger.completed == 3
    assert ledger.throughput() == pytest.approx(3 / 0.12)


def test_ledger_never_reports_negative_latency_from_millisecond_rounding() -> None:
    """An entry id truncated to the millisecond can precede the 202's exact time: latency is 0, not less."""
    ledger = match([Sent("a", 100.0005)], [Arrival("a", 100_000, delivered=True)])
    assert ledger.latencies_ms == (0.0,)


def test_drain_rate_excludes_the_time_before_the_first_output() -> None:
    """Outputs at 0, 500 and 1000 ms are two intervals in one second: 2/s, whatever came before."""
    assert drain_rate([10_000, 10_500, 11_000]) == pytest.approx(2.0)
    assert math.isnan(drain_rate([10_000]))


def test_targets_render_as_a_markdown_table_with_verdicts() -> None:
    """Each target is a row with its goal, the figure and met / missed / not measured."""
    text = targets_section(
        [
            Target("latency", "p99 <= 100 ms", "250 ms", met=False),
            Target("scale", "within 10%", "-2.0%", met=True),
            Target("memory", "<= 1 KB", "n/a", met=None),
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "## Targets"
    assert "| latency | p99 <= 100 ms | 250 ms | **missed** |" in lines
    assert "| scale | within 10% | -2.0% | met |" in lines
    assert "| memory | <= 1 KB | n/a | not measured |" in lines


def test_table_has_a_separator_for_every_column() -> None:
    """A Markdown table's second line has one `---|` per header cell."""
    assert table(("a", "b", "c"), [("1", "2", "3")]).splitlines() == [
        "| a | b | c |",
        "|---|---|---|",
        "| 1 | 2 | 3 |",
    ]


def test_scale_change_is_the_median_of_each_runs_own_ratio() -> None:
    """Each run's drains at both sizes are compared with each other: a host twice as fast in one
    run moves both of its rates and not the change, where a ratio of medians would move."""
    result = Result(rates={10_000: [1000.0, 500.0, 980.0], 100_000: [950.0, 470.0, 1000.0]})
    assert result.ratios() == pytest.approx([0.95, 0.94, 1000 / 980])
    assert result.change() == pytest.approx(-0.05)


def test_scale_change_at_each_size_is_against_the_smallest() -> None:
    """With three sizes, each larger one is compared with the smallest, run by run; unasked, the
    largest."""
    result = Result(rates={10_000: [1000.0, 500.0], 100_000: [950.0, 480.0], 1_000_000: [900.0, 400.0]})
    assert result.ratios(at=100_000) == pytest.approx([0.95, 0.96])
    assert result.change(at=100_000) == pytest.approx(-0.045)
    assert result.change() == result.change(at=1_000_000) == pytest.approx(-0.15)


def test_scale_cost_change_is_the_median_of_each_runs_own_cpu_ratio() -> None:
    """The CPU per article (the dedup process's and Redis's together) is compared run by run as
    well (0.05: 5% more at the largest index)."""

    def used(process: float, redis: float) -> Usage:
        return Usage(process_s=process, redis_s=redis, script_s=0.0)

    result = Result(
        usage={
            10_000: [used(0.5, 0.5), used(1.0, 1.0), used(0.6, 0.4)],
            100_000: [used(0.5, 0.6), used(1.0, 1.1), used(0.5, 0.4)],
        }
    )
    assert result.cpu_ms[100_000] == pytest.approx([1.1, 2.1, 0.9])
    assert result.cpu_change() == pytest.approx(0.05)


def test_overlapping_rates_count_only_the_time_every_drain_was_under_way() -> None:
    """Two drains side by side: each one's rate is taken from the latest start to the earliest
    end, so the stretch one of them ran alone (with the machine to itself) counts for neither."""
    early = [1000, 1100, 1200, 1300, 1400, 1500, 2000]  # alone before 1200
    late = [1200, 1250, 1300, 1350, 1400, 1450, 1500, 1550, 1600, 3000]  # alone after 2000
    rates = overlapping_rates({"early": early, "late": late})
    # From 1200 to 2000 (0.8 s): early has 1300, 1400, 1500, 2000; late has 1250 ... 1600.
    assert rates == pytest.approx({"early": 4 / 0.8, "late": 8 / 0.8})
    one = [0, 500, 1000]
    assert overlapping_rates({"only": one}) == pytest.approx({"only": drain_rate(one)})


def test_overlapping_rates_of_drains_that_never_overlapped_are_nan() -> None:
    """One drain over before the other began: there is no common stretch to compare."""
    rates = overlapping_rates({10_000: [0, 100, 200], 100_000: [300, 400]})
    assert all(math.isnan(rate) for rate in rates.values())
