"""Dead letters: messages a stage gave up on, kept with their error so they can be replayed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis

from shared.messages import dead_letter_stream

# A dead-letter stream is an audit log, not a stage stream (no group reads it), so a cap is safe.
DEAD_LETTER_MAXLEN = 100_000


@dataclass(frozen=True)
class DeadLetter:
    stage: str
    stream: str
    entry_id: str
    article_id: str
    error: str
    deliveries: int
    payload: bytes
    failed_at: float

    @staticmethod
    def decode(fields: Mapping[bytes, bytes]) -> dict[str, Any]:
        """The fields ``RedisDeadLetters.put`` wrote, typed again (the payload stays bytes)."""
        text = {key.decode(): value for key, value in fields.items()}

        def string(name: str) -> str:
            return text.get(name, b"").decode(errors="replace")

        return {
            "stage": string("stage"),
            "stream": string("stream"),
            "entry_id": string("entry_id"),
            "article_id": string("article_id"),
            "error": string("error"),
            "deliveries": int(text.get("deliveries", b"0") or 0),
            "payload": text.get("payload", b""),
            "failed_at": float(text.get("failed_at", b"0") or 0),
        }


class DeadLetterSink(Protocol):
    async def put(self, letter: DeadLetter) -> None: ...


class InMemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def put(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


class RedisDeadLetters:
    """One stream per stage, ``newswire:dlq:<stage>``, plain fields."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def put(self, letter: DeadLetter) -> None:
        fields: dict[str | bytes, str | bytes] = {
            key: value if isinstance(value, bytes) else str(value) for key, value in asdict(letter).items()
        }
        await self._client.xadd(
            dead_letter_stream(letter.stage),
            fields,  # type: ignore[arg-type]  # redis-py's stubs want an invariant dict of its own union
            maxlen=DEAD_LETTER_MAXLEN,
            approximate=True,
        )
