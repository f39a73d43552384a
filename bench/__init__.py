"""``make bench``: newswire's benchmark harness (not shipped; run from the repository root).

``python -m bench`` runs every part and writes ``BENCHMARKS.md`` and ``docs/bench-latency.png``;
each part also runs alone: ``python -m bench.e2e``, ``bench.stages``, ``bench.broker``,
``bench.scale`` (``--quick`` for a short version of any of them).
"""
