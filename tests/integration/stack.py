"""The whole stack for an integration test: devstack's services on the session's Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from devstack import Stack


@contextmanager
def running_stack(redis_url: str, workdir: Path, settings: dict[str, str] | None = None) -> Iterator[Stack]:
    """The four services on a flushed database, ready; afterwards every one must exit cleanly."""
    redis.Redis.from_url(redis_url).flushdb()
    running = Stack(redis_url, workdir, settings=settings or {}).start()
    try:
        running.wait_ready()
        yield running
    finally:
        codes = running.stop()
        assert all(code == 0 for code in codes.values()), f"unclean exits {codes}\n{running.all_logs()}"
