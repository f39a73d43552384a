"""The chaos suite's ledger: lost, duplicated and unexpected per story (chaos/ledger.py)."""

from __future__ import annotations

import pytest

from chaos.ledger import Ledger

pytestmark = pytest.mark.unit


def test_figures_count_lost_duplicated_and_unexpected_per_story() -> None:
    """A story accepted and never received is lost; one received in two entries is duplicated; an
    entry for an id intake never accepted is unexpected; a re-read of the same entry counts once."""
    ledger = Ledger()
    for key in ("s1", "s2", "s3", "s4"):
        ledger.attempted(key)
    ledger.answered("s1", 202, "A1")
    ledger.answered("s2", 202, "A2")
    ledger.answered("s3", 202, "A3")
    ledger.answered("s4", 503)
    ledger.received("A1", "1-0")
    ledger.received("A1", "1-0")  # the subscriber read its own pending entry again
    ledger.received("A2", "2-0")
    ledger.received("A2", "3-0")
    ledger.received("ZZ", "4-0")
    figures = ledger.figures()
    assert (figures.attempted, figures.accepted, figures.delivered) == (4, 3, 2)
    assert (figures.lost, figures.duplicated, figures.unexpected) == (1, 1, 1)
    assert figures.answers == {202: 3, 503: 1}
    assert figures.designed_answers_only
    assert ledger.missing() == {"s3"}


def test_one_story_submitted_twice_and_delivered_once_is_neither_lost_nor_duplicated() -> None:
    """Two accepted submissions of one story (two article ids, the second judged a duplicate) with one
    entry at the subscriber: delivered once."""
    ledger = Ledger()
    ledger.attempted("same")
    ledger.answered("same", 202, "A1")
    ledger.answered("same", 202, "A2")
    ledger.received("A1", "1-0")
    figures = ledger.figures()
    assert (figures.accepted, figures.delivered, figures.lost, figures.duplicated) == (1, 1, 0, 0)


def test_a_5xx_answer_is_not_a_designed_answer() -> None:
    """A 500 in the answers fails the burst's check."""
    ledger = Ledger()
    ledger.answered("x", 500)
    assert not ledger.figures().designed_answers_only
