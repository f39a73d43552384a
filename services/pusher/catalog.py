"""The pusher's view of the subscriptions, reloaded when they change.

Why a version counter checked per read batch rather than a pub/sub notification: a GET per batch
costs one round trip, cannot be missed by a process that was disconnected or starting, and gives
read-your-writes: once ``POST /v1/subscriptions`` has answered, every batch the pusher reads after
that is matched against the new subscription.
"""

from __future__ import annotations

from shared.subscriptions import Subscription, SubscriptionStore


class SubscriptionCatalog:
    def __init__(self, store: SubscriptionStore) -> None:
        self._store = store
        self._version: int | None = None
        self._subscriptions: tuple[Subscription, ...] = ()

    async def current(self) -> tuple[Subscription, ...]:
        """Every subscription, as of now (reloaded only when the version moved)."""
        version = await self._store.version()
        if version != self._version:
            self._subscriptions = tuple(await self._store.list())
            self._version = version
        return self._subscriptions
