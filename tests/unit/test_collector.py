"""The garbage collector's set-up for service processes (shared.collector)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shared.collector import tune_collector

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_young_generation_is_collected_after_the_threshold(restored_collector: None) -> None:
    """Only the young generation's threshold changes; the older generations keep theirs."""
    _, older, oldest = gc.get_threshold()
    tune_collector(12_345)
    assert gc.get_threshold() == (12_345, older, oldest)


def test_what_start_up_built_is_frozen_and_its_garbage_collected_first(restored_collector: None) -> None:
    """Objects alive at tuning are out of the collector's sight; a reference cycle that was
    already garbage is collected, not frozen for the life of the process."""

    class Node:
        def __init__(self) -> None:
            self.me = self

    cycle = Node()
    gone = weakref.ref(cycle)
    del cycle
    tune_collector()
    assert gone() is None
    assert gc.get_freeze_count() > 0


def test_a_batch_of_messages_no_longer_triggers_collections(restored_collector: None) -> None:
    """What a read batch holds alive (10,000 containers, none of them garbage) triggers young
    collections with CPython's default threshold, and none with the services' one."""

    def collections_while_holding(n: int) -> int:
        before = gc.get_stats()[0]["collections"]
        held = [{"field": [i]} for i in range(n)]
        after = gc.get_stats()[0]["collections"]
        del held
        return after - before

    gc.set_threshold(700, *gc.get_threshold()[1:])
    assert collections_while_holding(5_000) > 0
    tune_collector()
    assert collections_while_holding(5_000) == 0
