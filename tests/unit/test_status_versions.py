"""Article status records across versions: a new version moves the record on, an old one does not."""

from __future__ import annotations

import pytest

from shared.ninjs import STORY_ALT_ID_ROLE
from shared.status import InMemoryStatusStore, StatusUpdate

pytestmark = pytest.mark.unit


async def test_version_two_replaces_a_delivered_version_one() -> None:
    """Version 2 tagged and at 'update' overrides version 1's 'delivered' and drops version 1's facts;
    its document is version 2's, naming its story; the history keeps every stage's timestamp."""
    store = InMemoryStatusStore()
    await store.record(StatusUpdate.reached("a1", "tagged", document={"v": 1}, version=1))
    await store.record(StatusUpdate.reached("a1", "duplicate", fields={"duplicate_of": "a0"}, version=1))
    await store.record(StatusUpdate.reached("a1", "delivered", version=1))
    await store.record(StatusUpdate.reached("a1", "tagged", document={"v": 2}, version=2))
    await store.record(StatusUpdate.reached("a1", "update", fields={"story_id": "a0"}, version=2))
    found = await store.get("a1")
    assert found is not None
    assert (found.status, found.fields, found.document) == (
        "update",
        {"story_id": "a0", "version": "2"},
        {"v": 2, "altIds": [{"role": STORY_ALT_ID_ROLE, "value": "a0"}]},
    )
    assert set(found.history) == {"tagged", "duplicate", "delivered", "update"}


async def test_late_write_of_an_older_version_only_adds_history() -> None:
    """A slow stage's write about version 1 arriving after version 2 changes neither status nor facts."""
    store = InMemoryStatusStore()
    await store.record(StatusUpdate.reached("a1", "update", fields={"story_id": "s"}, version=2))
    await store.record(StatusUpdate.reached("a1", "delivered", fields={"topics": "all"}, version=1))
    found = await store.get("a1")
    assert found is not None and (found.status, found.fields) == ("update", {"story_id": "s", "version": "2"})


async def test_write_without_a_version_compares_ranks_within_the_current_version() -> None:
    """An unversioned write (a dead letter) moves a version 2 record on when its rank is not lower,
    and cannot move it back."""
    store = InMemoryStatusStore()
    await store.record(StatusUpdate.reached("a1", "update", version=2))
    await store.record(StatusUpdate.reached("a1", "received"))
    assert (await store.get("a1")).status == "update"  # type: ignore[union-attr]  # recorded above
    await store.record(StatusUpdate.dead_lettered("a1", "pusher", "boom"))
    found = await store.get("a1")
    assert found is not None and (found.status, found.fields["version"]) == ("dead_lettered", "2")
