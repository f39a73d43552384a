"""Background tasks stop even when a cancellation is swallowed (Python 3.11's wait_for)."""

from __future__ import annotations

import asyncio

import pytest

from shared.tasks import stop_task

pytestmark = pytest.mark.unit


async def _ignoring_cancellation_until(release: asyncio.Event) -> None:
    """A loop that swallows every cancellation until ``release`` is set."""
    while not release.is_set():
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            continue


async def test_a_task_that_swallowed_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    """A loop whose first cancellation is lost (as inside redis-py's socket write on 3.11) still
    ends: stop_task cancels it again, and says it ended."""
    rounds = 0

    async def loop_swallowing_once() -> None:
        nonlocal rounds
        swallowed = False
        while True:
            rounds += 1
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True  # lost, as gh-86296 loses it

    task = asyncio.create_task(loop_swallowing_once())
    await asyncio.sleep(0.02)

    assert await stop_task(task, timeout_s=2.0) is True
    assert task.cancelled() and rounds >= 2


async def test_a_task_that_will_not_end_is_left_after_the_time_limit() -> None:
    """stop_task gives up after its time limit and says so, instead of hanging the caller."""
    release = asyncio.Event()
    task = asyncio.create_task(_ignoring_cancellation_until(release))
    await asyncio.sleep(0.02)  # inside its loop (a task cancelled before it starts never runs)
    assert await stop_task(task, timeout_s=0.3) is False
    assert not task.done()
    release.set()
    await asyncio.wait_for(task, 1.0)


async def test_an_ended_task_is_left_as_it_is() -> None:
    """A task that already finished is not cancelled: its result stays readable."""
    task = asyncio.create_task(asyncio.sleep(0, result="done"))
    await task
    assert await stop_task(task, timeout_s=1.0) is True
    assert task.result() == "done"


async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    """A stop that is itself cancelled (its service being stopped) ends with CancelledError."""
    release = asyncio.Event()
    task = asyncio.create_task(_ignoring_cancellation_until(release))
    await asyncio.sleep(0.02)
    stopping = asyncio.create_task(stop_task(task, timeout_s=5.0))
    await asyncio.sleep(0.05)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    release.set()
    await asyncio.wait_for(task, 1.0)
