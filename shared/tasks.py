"""Stopping a background task for sure.

On Python 3.11, ``asyncio.wait_for`` swallows a cancellation that lands just as the awaited I/O
completes (CPython gh-86296, fixed in 3.12), and redis-py wraps its socket writes in it. A task
cancelled once can then carry on with its loop: awaiting it hangs, and a bounded wait leaves it
running. So a task is cancelled again, until it has ended or the time is up.
"""

from __future__ import annotations

import asyncio
from typing import Any

RECANCEL_INTERVAL_S = 0.1


async def stop_task(task: asyncio.Task[Any], timeout_s: float) -> bool:
    """Cancels ``task`` (again every ``RECANCEL_INTERVAL_S`` while it runs) and waits up to
    ``timeout_s`` for it to end; whether it did. Its outcome is not raised here, while a
    cancellation of the caller is (unlike suppressing CancelledError around ``await task``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(RECANCEL_INTERVAL_S, remaining))
    return True
