"""An article's status only moves forward, whatever order the stages' writes land in."""

from __future__ import annotations

import pytest

from shared.ninjs import STORY_ALT_ID_ROLE
from shared.status import InMemoryStatusStore, StatusUpdate

pytestmark = pytest.mark.unit


async def test_status_moves_forward_even_when_writes_arrive_out_of_order() -> None:
    """A late 'tagged' write after 'unique' keeps the status 'unique' but records its time, and its
    document stands (dedup writes none), with the story id dedup recorded; an earlier stage's
    document landing later still does not replace it."""
    store = InMemoryStatusStore()
    await store.record(StatusUpdate.reached("a1", "received", document={"v": 1}))
    await store.record(StatusUpdate.reached("a1", "unique", fields={"story_id": "s1"}))
    await store.record(StatusUpdate.reached("a1", "tagged", document={"v": 2}))
    await store.record(StatusUpdate.reached("a1", "received", document={"v": 0}))
    found = await store.get("a1")
    assert found is not None
    assert found.status == "unique"
    assert found.document == {"v": 2, "altIds": [{"role": STORY_ALT_ID_ROLE, "value": "s1"}]}
    assert set(found.history) == {"received", "tagged", "unique"}
    assert found.fields == {"story_id": "s1"}


async def test_dead_letter_sits_after_the_stage_that_gave_up() -> None:
    """A dead letter at dedup overrides 'tagged' and is itself overridden by a later delivery."""
    store = InMemoryStatusStore()
    await store.record(StatusUpdate.reached("a1", "tagged"))
    await store.record(StatusUpdate.dead_lettered("a1", "dedup", "boom"))
    dead = await store.get("a1")
    assert dead is not None and dead.status == "dead_lettered"
    assert dead.fields["error"] == "boom"
    await store.record(StatusUpdate.reached("a1", "delivered"))
    replayed = await store.get("a1")
    assert replayed is not None and replayed.status == "delivered"


async def test_unknown_article_has_no_status() -> None:
    """Asking for an id never recorded gives None."""
    assert await InMemoryStatusStore().get("nope") is None
