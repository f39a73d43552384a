"""CPython's cyclic garbage collector, set up for a process that handles messages in batches.

CPython runs a young-generation collection each time the objects it tracks (containers: dicts,
lists, model instances) outnumber those freed by more than the threshold, 700 by default. A read
batch of 50 decoded articles holds some 10,000 such objects alive until its outputs are written,
so with 700 the collector ran a dozen times per batch, each time walking every young object
still alive, none of them garbage: measured in the dedup stage's plumbing (``bench.plumbing``),
0.2 s of collections for 2,000 articles, ~100 us per article. Messages free their objects by
reference counting once handled; only reference cycles need the collector, and those are few.
With a higher threshold a steady stream triggers it only when tracked objects really pile up.

``gc.freeze`` moves what start-up built (modules, the app, compiled schemas) out of the
collector's sight, so the rare full collection walks only what was made since.
"""

from __future__ import annotations

import gc

DEFAULT_THRESHOLD = 50_000


def tune_collector(threshold: int = DEFAULT_THRESHOLD) -> None:
    """Freeze what exists now and collect the young generation after ``threshold`` net allocations
    of tracked objects (the older generations' thresholds stay as they are)."""
    gc.collect()  # what start-up left as garbage goes now, not frozen for good
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
