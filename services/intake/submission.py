"""The one path every accepted article takes (HTTP POST and the feed poller): idempotency, publish,
status, in that order, each Redis call bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import structlog
from redis.exceptions import RedisError

from services.intake.idempotency import Claim, IdempotencyKey, IdempotencyStore
from shared.messages import Article, ArticleReceived
from shared.ninjs import to_ninjs
from shared.status import StatusStore, StatusUpdate

log = structlog.stdlib.get_logger("newswire.intake")


class ArticleSink(Protocol):
    """Where accepted articles go (the ``articles.received`` stream in production)."""

    async def submit(self, event: ArticleReceived) -> None: ...


class StoreUnavailableError(Exception):
    """Redis did not answer (in time): the submission may be retried."""


@asynccontextmanager
async def store_call(timeout_s: float | None = None) -> AsyncIterator[None]:
    """Redis failing, or slower than ``timeout_s``, inside: raised as StoreUnavailableError (a 503)."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except (RedisError, OSError, TimeoutError) as error:
        raise StoreUnavailableError(str(error) or type(error).__name__) from error


class SubmissionConflictError(Exception):
    """The key is being published by another submission (``in_progress``) or was used for other
    content (``mismatch``)."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(claim.outcome)
        self.claim = claim


Outcome = Literal["new", "version", "duplicate"]


@dataclass(frozen=True)
class Accepted:
    article_id: str
    version: int
    outcome: Outcome

    @property
    def duplicate(self) -> bool:
        return self.outcome == "duplicate"


class Acceptor(Protocol):
    """The submission path: ``Intake`` with separate parts, or ``RedisIntake`` in one round trip."""

    async def accept(
        self, article: Article, key: IdempotencyKey | None = None, fingerprint: str | None = None
    ) -> Accepted: ...

    async def published_fingerprint(self, key: IdempotencyKey) -> str | None: ...


def content_fingerprint(article: Article) -> str:
    """What a resubmission must repeat to be the same: everything but id, version and arrival time."""
    content = article.model_dump(mode="json", exclude={"id", "version", "received_at"})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class Intake:
    def __init__(
        self,
        sink: ArticleSink,
        status: StatusStore,
        idempotency: IdempotencyStore,
        timeout_s: float = 2.0,
    ) -> None:
        self._sink = sink
        self._status = status
        self._idempotency = idempotency
        self._timeout_s = timeout_s

    async def accept(
        self, article: Article, key: IdempotencyKey | None = None, fingerprint: str | None = None
    ) -> Accepted:
        """Publish ``article`` once per key and content; raises StoreUnavailableError or
        SubmissionConflictError. ``fingerprint`` defaults to the article's content."""
        async with store_call(self._timeout_s):
            if key is None:
                await self._publish(article)
                return Accepted(article.id, article.version, "new")
            fingerprint = fingerprint or content_fingerprint(article)
            claim = await self._idempotency.claim(key, article.id, fingerprint)
        if claim.outcome == "duplicate":
            return Accepted(claim.article_id, claim.version, "duplicate")
        if not claim.publishes:
            raise SubmissionConflictError(claim)
        article = article.model_copy(update={"id": claim.article_id, "version": claim.version})
        try:
            async with store_call(self._timeout_s):
                await self._publish(article)
                await self._idempotency.complete(key, claim)
        except StoreUnavailableError:
            await self._abandon(key, claim)
            raise
        return Accepted(article.id, article.version, "new" if claim.outcome == "new" else "version")

    async def published_fingerprint(self, key: IdempotencyKey) -> str | None:
        """The fingerprint last published under ``key`` (None: never, or still in flight)."""
        async with store_call(self._timeout_s):
            return await self._idempotency.fingerprint(key)

    async def _publish(self, article: Article) -> None:
        await self._sink.submit(ArticleReceived(article=article))
        await self._status.record(
            StatusUpdate.reached(article.id, "received", document=to_ninjs(article), version=article.version)
        )

    async def _abandon(self, key: IdempotencyKey, claim: Claim) -> None:
        # Best effort: if Redis is gone this fails too, and the claim's lease runs out instead.
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(self._timeout_s):
                await self._idempotency.abandon(key, claim)
