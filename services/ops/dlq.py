"""``newswire dlq list | show | replay | drop``: the messages a stage, or a webhook, gave up on.

A dead letter (``shared/deadletter.py``) keeps the stage, the input stream, the entry id, the
article id, the error, the delivery count, the payload and when it failed. Replaying a stage's
letter publishes the payload to the stage's input stream again, the way intake and the stages
publish (a FastStream publisher, ``article_id`` header), then removes the dead letter: a crash
between the two yields a second replay at worst, which the idempotent stages absorb.

Webhook letters (source ``webhooks``; the letter's stream is the subscription's) are replayed
differently: publishing their payload again would add a second entry to the subscription's stream.
Their delivery is scheduled again instead (``newswire replay``: same entry, same ``webhook-id``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from rich.console import Console
from rich.table import Table

from services.pusher.webhooks import DEAD_LETTER_STAGE as WEBHOOKS
from services.replay import replay as replay_webhook
from shared.deadletter import DeadLetter
from shared.health import CONSUMER_SERVICES
from shared.messages import SUBSCRIPTION_STREAM_PREFIX, dead_letter_stream
from shared.stage import ARTICLE_ID_HEADER

STAGES = CONSUMER_SERVICES
SOURCES = (*STAGES, WEBHOOKS)  # where dead letters come from: the stages, and webhook deliveries
ERROR_PREVIEW = 100

log = structlog.stdlib.get_logger("newswire.dlq")


@dataclass(frozen=True)
class StoredLetter(DeadLetter):
    """A dead letter as stored, with its id in the dead-letter stream."""

    dlq_id: str = ""

    @classmethod
    def from_entry(cls, dlq_id: Any, fields: Any) -> StoredLetter:
        """From one XRANGE entry (redis-py types it loosely: bytes keys and values here)."""
        return cls(
            dlq_id=dlq_id.decode() if isinstance(dlq_id, bytes) else dlq_id, **DeadLetter.decode(fields)
        )

    def summary(self) -> dict[str, Any]:
        first_line = self.error.strip().splitlines()[-1] if self.error.strip() else ""
        return {
            "id": self.dlq_id,
            "stage": self.stage,
            "article_id": self.article_id,
            "deliveries": self.deliveries,
            "failed_at": _iso(self.failed_at),
            "error": first_line[:ERROR_PREVIEW],
        }

    def detail(self) -> dict[str, Any]:
        try:
            payload: Any = json.loads(self.payload)
        except ValueError:
            payload = self.payload.decode(errors="replace")
        return {**self.summary(), "stream": self.stream, "entry_id": self.entry_id, "error": self.error,
                "payload": payload}  # fmt: skip


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class Republisher(Protocol):
    async def publish(self, payload: bytes, stream: str, article_id: str) -> None: ...


class BrokerRepublisher:
    """Publishes like the stages do: JSON payloads as JSON messages, with the article id header."""

    def __init__(self, broker: Any) -> None:
        self._broker = broker

    async def publish(self, payload: bytes, stream: str, article_id: str) -> None:
        try:
            message: Any = json.loads(payload)
        except ValueError:
            message = payload  # undecodable letters go back as they came
        await self._broker.publish(message, stream=stream, headers={ARTICLE_ID_HEADER: article_id})


def check_stage(stage: str) -> str:
    if stage not in SOURCES:
        msg = f"unknown stage {stage!r}; one of {', '.join(SOURCES)}"
        raise ValueError(msg)
    return stage


def subscription_of(letter: DeadLetter) -> str | None:
    """The subscription a webhook letter belongs to (None for a stage's letter)."""
    if letter.stage != WEBHOOKS or not letter.stream.startswith(SUBSCRIPTION_STREAM_PREFIX):
        return None
    return letter.stream.removeprefix(SUBSCRIPTION_STREAM_PREFIX)


async def list_letters(
    client: aioredis.Redis, stage: str, limit: int = 100, subscription: str | None = None
) -> list[StoredLetter]:
    """The oldest ``limit`` letters of ``stage``; with ``subscription``, only that one's webhook letters."""
    entries: Any = await client.xrange(dead_letter_stream(check_stage(stage)), count=limit)
    letters = [StoredLetter.from_entry(dlq_id, fields) for dlq_id, fields in entries]
    if subscription is not None:
        letters = [letter for letter in letters if subscription_of(letter) == subscription]
    return letters


async def get_letter(client: aioredis.Redis, stage: str, dlq_id: str) -> StoredLetter | None:
    entries: Any = await client.xrange(dead_letter_stream(check_stage(stage)), min=dlq_id, max=dlq_id)
    return StoredLetter.from_entry(*entries[0]) if entries else None


async def _chosen(client: aioredis.Redis, stage: str, ids: Sequence[str], every: bool) -> list[StoredLetter]:
    if every:
        return await list_letters(client, stage, limit=1_000_000)
    found = [await get_letter(client, stage, dlq_id) for dlq_id in ids]
    missing = [dlq_id for dlq_id, letter in zip(ids, found, strict=True) if letter is None]
    if missing:
        msg = f"no dead letter {', '.join(missing)} in {dead_letter_stream(stage)}"
        raise LookupError(msg)
    return [letter for letter in found if letter is not None]


async def replay(
    client: aioredis.Redis, publisher: Republisher, stage: str, ids: Sequence[str], *, every: bool = False
) -> list[StoredLetter]:
    """Publish each chosen letter's payload to its input stream again, then delete the letter."""
    letters = await _chosen(client, stage, ids, every)
    for letter in letters:
        subscription = subscription_of(letter)
        if subscription is not None:
            await replay_webhook(client, subscription, entry_ids=[letter.entry_id])
        else:
            await publisher.publish(letter.payload, letter.stream, letter.article_id)
        await client.xdel(dead_letter_stream(stage), letter.dlq_id)
        log.info("dlq.replayed", stage=stage, dlq_id=letter.dlq_id, article_id=letter.article_id,
                 stream=letter.stream)  # fmt: skip
    return letters


async def drop(
    client: aioredis.Redis, stage: str, ids: Sequence[str], *, every: bool = False
) -> list[StoredLetter]:
    """Delete the chosen letters for good."""
    letters = await _chosen(client, stage, ids, every)
    for letter in letters:
        await client.xdel(dead_letter_stream(stage), letter.dlq_id)
        log.info("dlq.dropped", stage=stage, dlq_id=letter.dlq_id, article_id=letter.article_id)
    return letters


def render_list(letters: Sequence[StoredLetter], console: Console) -> None:
    table = Table(title="Dead letters", title_justify="left")
    for column in ("id", "stage", "article_id", "deliveries", "failed_at", "error"):
        table.add_column(column)
    for letter in letters:
        row = letter.summary()
        table.add_row(*(str(row[column]) for column in ("id", "stage", "article_id", "deliveries",
                                                         "failed_at", "error")))  # fmt: skip
    console.print(table)
