"""HTML pages are read in worker processes, so intake's event loop keeps answering meanwhile.

Measured here (CPU time, the 22 real pages of ../shared/data/pages, ~186 KB each): reading an
HTML page costs ~100 ms, a scraped text page ~1.6 ms and a JSON item well under 1 ms. One HTML
page on the loop stalls every other request for its whole reading; a thread would not help (the
work holds the GIL). So HTML goes to a small process pool (one worker by default on 2 cores: the
loop keeps the other), and text pages and JSON items stay on the loop, where they cost less than
the hand-over to a process would.

The pool is bounded too: past ``max_waiting`` pages waiting for a worker, a page is answered 503
(Retry-After) at once instead of queueing seconds of work behind the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

import structlog

from services.intake.problems import Problem

log = structlog.stdlib.get_logger("newswire.intake")

T = TypeVar("T")
WAITING_PER_WORKER = 8  # ~0.8 s of HTML per worker at ~100 ms a page


def _warm() -> None:
    """Import the page reader (trafilatura, lxml) once in a new worker, not on its first page."""
    import services.intake.html  # noqa: F401


def busy() -> Problem:
    return Problem(
        503,
        "overloaded",
        "Service overloaded",
        "Too many pages are waiting to be read; retry after the given seconds.",
        headers={"Retry-After": "1"},
    )


class PageReaders:
    """Runs page reading in ``workers`` processes (0: on the calling loop, for tests and tools)."""

    def __init__(self, workers: int, max_waiting: int | None = None) -> None:
        self.workers = workers
        self.max_waiting = max_waiting if max_waiting is not None else WAITING_PER_WORKER * max(workers, 1)
        self.waiting = 0
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fork of a process running an event loop and sockets would inherit them.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_warm)
        return self._pool

    async def run(self, read: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``read(*args, **kwargs)`` in a worker; its exceptions are raised here as they were."""
        if self.workers == 0:
            return read(*args, **kwargs)
        if self.waiting >= self.max_waiting:
            raise busy()
        self.waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor(), functools.partial(read, *args, **kwargs))
        except BrokenProcessPool as error:
            # A worker died (killed, or crashed on a page): start afresh, let the client retry.
            log.warning("pages.worker_lost", error=str(error))
            self.close()
            raise busy() from error
        finally:
            self.waiting -= 1

    def start(self) -> None:
        """Start the workers now, so the first page does not wait for them."""
        if self.workers:
            self._executor().submit(_warm)

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)
