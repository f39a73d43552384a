"""Two faults of the chaos suite, lean enough for `make test` (the full suite runs under `make chaos`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.faults import FAULTS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault", ["kill-pusher", "poison"])
def test_fault_loses_nothing_and_duplicates_nothing(fault: str, tmp_path: Path) -> None:
    """Under load, after the fault and a drain, every accepted article reached the subscriber exactly
    once, nothing arrived that was not accepted, the fault's own checks hold (the killed pusher was
    restarted; the poison was dead-lettered at the cap with its error), and the pipeline recovered."""
    result = FAULTS[fault](tmp_path, articles=60, seconds=4.0)
    figures = result.figures
    assert figures.accepted > 0
    assert (figures.lost, figures.duplicated, figures.unexpected) == (0, 0, 0), result
    assert result.checks and all(result.checks.values()), result
    assert result.recovery_s is not None, result
