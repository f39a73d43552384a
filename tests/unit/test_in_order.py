"""Turns in call order: how one dedup process keeps its concurrent read batches in read order."""

from __future__ import annotations

import asyncio

import pytest

from shared.scripts import InOrder

pytestmark = pytest.mark.unit


async def test_each_turn_begins_when_the_turns_taken_before_it_have_ended() -> None:
    """Three calls that take turns 1, 2, 3 run their sections 1, 2, 3, whatever order they reach
    them in; a call that ended before its section (it failed early) holds up nobody."""
    in_order = InOrder()
    ran: list[str] = []

    async def call(name: str, turn_delay: float) -> None:
        turn = in_order.take()
        try:
            await asyncio.sleep(turn_delay)  # its own preparation: the later calls are quicker
            await turn.wait()
            ran.append(name)
            await asyncio.sleep(0.01)
        finally:
            turn.end()

    async def failing() -> None:
        turn = in_order.take()
        turn.end()

    await asyncio.gather(call("first", 0.05), failing(), call("second", 0.02), call("third", 0.0))
    assert ran == ["first", "second", "third"]


async def test_a_call_cancelled_while_waiting_neither_jumps_nor_blocks_the_queue() -> None:
    """A call cancelled while it waits does not end its turn before the turn before it has ended:
    the call after both still waits for the first, then runs."""
    in_order = InOrder()
    first, cancelled, last = in_order.take(), in_order.take(), in_order.take()
    waiting = asyncio.create_task(cancelled.wait())
    await asyncio.sleep(0)
    waiting.cancel()
    cancelled.end()
    last_ran = asyncio.create_task(last.wait())
    await asyncio.sleep(0.01)
    assert not last_ran.done()  # the first turn is still going
    first.end()
    await asyncio.wait_for(last_ran, 1.0)
    assert waiting.cancelled()


async def test_a_call_that_hands_over_its_turn_lets_the_next_call_start_first() -> None:
    """After ending its turn and handing it over, a call goes on only once the call already
    waiting for the next turn has run up to its next wait (for dedup: sent its round trip)."""
    in_order = InOrder()
    events: list[str] = []
    first_turn, second_turn = in_order.take(), in_order.take()

    async def second() -> None:
        await second_turn.wait()
        events.append("second started")
        second_turn.end()

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.01)  # the second call waits for its turn
    assert not events
    first_turn.end()
    await first_turn.hand_over()
    events.append("first goes on")
    await waiting
    assert events == ["second started", "first goes on"]
