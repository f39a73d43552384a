"""Readiness across processes: each consumer service reports a heartbeat to Redis.

A service is ready when every one of its subscribers is running (FastStream stops a subscriber
whose group vanished while ``ping`` still answers, so a ping proves nothing). Intake's
``/readyz`` reads these heartbeats; they expire on their own when a process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from shared.tasks import stop_task

HEARTBEAT_PREFIX = "newswire:health:"
CONSUMER_SERVICES = ("tagger", "dedup", "pusher")


def heartbeat_key(service: str, consumer: str) -> str:
    return f"{HEARTBEAT_PREFIX}{service}:{consumer}"


@dataclass(frozen=True)
class Heartbeat:
    service: str
    consumer: str
    ready: bool
    subscribers: dict[str, bool]
    at: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


class HeartbeatReporter:
    """Writes this process's heartbeat every ``interval`` seconds, with a TTL of three intervals."""

    def __init__(
        self,
        client: aioredis.Redis,
        service: str,
        consumer: str,
        probe: Callable[[], dict[str, bool]],
        interval: float,
    ) -> None:
        self._client = client
        self._service = service
        self._consumer = consumer
        self._probe = probe
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def current(self) -> Heartbeat:
        subscribers = self._probe()
        ready = bool(subscribers) and all(subscribers.values())
        return Heartbeat(self._service, self._consumer, ready, subscribers, time.time())

    async def beat(self) -> None:
        ttl_ms = int(self._interval * 3000)
        key = heartbeat_key(self._service, self._consumer)
        await self._client.set(key, self.current().to_json(), px=ttl_ms)

    async def _run(self) -> None:
        while True:
            # A Redis outage must not kill the reporter: it reports again once Redis is back.
            with contextlib.suppress(Exception):
                await self.beat()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task, timeout_s=2.0)
        with contextlib.suppress(Exception):
            await self._client.delete(heartbeat_key(self._service, self._consumer))


async def read_heartbeats(client: aioredis.Redis) -> list[Heartbeat]:
    beats: list[Heartbeat] = []
    async for key in client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
        raw = await client.get(key)
        if raw is not None:
            beats.append(Heartbeat(**json.loads(raw)))
    return beats


def readiness(beats: Iterable[Heartbeat], required: Iterable[str]) -> dict[str, Any]:
    """Per required service: ready when at least one live replica says all its subscribers run."""
    by_service: dict[str, list[Heartbeat]] = {}
    for beat in beats:
        by_service.setdefault(beat.service, []).append(beat)
    return {
        service: {
            "ready": any(beat.ready for beat in by_service.get(service, [])),
            "replicas": {beat.consumer: beat.subscribers for beat in by_service.get(service, [])},
        }
        for service in required
    }
