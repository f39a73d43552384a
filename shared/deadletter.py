"""Dead letters: messages a stage gave up on, kept with their error so they can be replayed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

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
