"""Webhook delivery: each webhook subscription's stream, POSTed entry by entry, signed, retried.

Design. The pusher already writes each matching article once to ``newswire:sub:<name>``; that
stream is the subscription's queue. The dispatcher (in the pusher process: no extra service to
supervise, ready-check or deploy) runs one worker per webhook subscription, so a slow or failing
endpoint only ever holds up its own worker. A worker reads its stream with the consumer group
``webhooks`` and sends the entries in stream order (``webhook_concurrency`` in flight, 1 by default
so a healthy endpoint sees published order). A failed attempt is acknowledged in the stream and
scheduled in the subscription's retry sorted set (entry id by due time) in one transaction; due
retries are leased (their score pushed forward) before they are sent, so a worker that dies
mid-attempt leaves them to be retried, never lost. After the last attempt the delivery goes to the
dead-letter stream ``newswire:dlq:webhooks``. Order: a retried delivery arrives after newer ones
that succeeded meanwhile (receivers order by the payload's ``timestamp`` or dedupe by
``webhook-id``, which is the same on every attempt of one delivery).

An endpoint answering 410, or failing without a success for ``webhook_disable_after_s``, is
disabled (log event ``webhook.endpoint_disabled``): its worker stops until ``newswire replay``
re-enables it; meanwhile entries keep queueing in its stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from services.pusher.retry import RetryPolicy, classify, iso_timestamp
from services.pusher.sender import WebhookSender
from services.pusher.signing import signature_header
from services.pusher.ssrf import Resolver, SystemResolver
from shared.deadletter import DeadLetter, RedisDeadLetters
from shared.metrics import StageMetrics
from shared.settings import Settings
from shared.stage import ensure_group
from shared.subscriptions import Subscription, SubscriptionStore, live_secrets, webhook_keys
from shared.tasks import stop_task

GROUP = "webhooks"
DEAD_LETTER_STAGE = "webhooks"
EVENT_DISABLED = "webhook.endpoint_disabled"
READ_COUNT = 50
SUPERVISE_INTERVAL_S = 1.0
STOP_TIMEOUT_S = 5.0

log = structlog.stdlib.get_logger("newswire.webhooks")

# KEYS[1] the retry set; ARGV now, lease-until, count. Returns the due members, now leased.
_LEASE_DUE_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""


def webhook_id(subscription: str, article_id: str) -> str:
    """Stable across attempts and replays of one delivery; distinct across subscriptions."""
    return f"msg_{subscription}_{article_id}"


@dataclass(frozen=True)
class PendingDelivery:
    subscription: str
    entry_id: str
    fields: dict[str, str]

    @property
    def article_id(self) -> str:
        return self.fields.get("id", "")

    @property
    def webhook_id(self) -> str:
        return webhook_id(self.subscription, self.article_id)

    def body(self) -> bytes:
        """The Standard Webhooks payload; ``timestamp`` is when the article entered the stream."""
        millis = int(self.entry_id.split("-")[0])
        head = json.dumps({"type": self.fields.get("event", ""), "timestamp": iso_timestamp(millis)})
        # The article is already ninjs JSON: splice it in rather than parse and re-serialise it.
        return f'{head[:-1]}, "data": {self.fields.get("article", "null")}}}'.encode()


def _decode(fields: Mapping[Any, Any] | None) -> dict[str, str]:
    """Stream fields as text (the client returns bytes)."""
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
        for k, v in (fields or {}).items()
    }


class EndpointWorker:
    """Delivers one webhook subscription's stream to its endpoint."""

    def __init__(
        self,
        redis: aioredis.Redis,
        store: SubscriptionStore,
        subscription: Subscription,
        sender: WebhookSender,
        settings: Settings,
        consumer: str,
        clock: Callable[[], float] = time.time,
        metrics: StageMetrics | None = None,
    ) -> None:
        assert subscription.webhook is not None
        self.metrics = metrics
        self.redis = redis
        self.store = store
        self.subscription = subscription
        self.url = subscription.webhook.url
        self.sender = sender
        self.settings = settings
        self.consumer = consumer
        self.clock = clock
        self.policy = RetryPolicy(settings.webhook_retry_schedule_s)
        self.keys = webhook_keys(subscription.name)
        self.stream = subscription.stream
        self.dead_letters = RedisDeadLetters(redis)
        self.semaphore = asyncio.Semaphore(settings.webhook_concurrency)
        self._lease_due = redis.register_script(_LEASE_DUE_SCRIPT)
        self._log = log.bind(subscription=subscription.name, host=subscription.webhook.host)

    async def run(self) -> None:
        await ensure_group(self.redis, self.stream, GROUP)
        last_claim = 0.0
        while True:
            try:
                if await self.redis.hget(self.keys["endpoint"], "disabled_at"):
                    await asyncio.sleep(SUPERVISE_INTERVAL_S)
                    continue
                retried = await self.send_due_retries()
                if time.monotonic() - last_claim > self.settings.claim_idle_ms / 1000:
                    last_claim = time.monotonic()
                    await self.send(await self.claim_stale())
                block = None if retried else self.settings.poll_interval_ms
                await self.send(await self.read_fresh(block))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._log.warning("webhook.worker_error", error=str(error))
                await asyncio.sleep(1.0)

    async def read_fresh(self, block_ms: int | None) -> list[PendingDelivery]:
        answer: Any = await self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=READ_COUNT, block=block_ms
        )
        return [
            PendingDelivery(self.subscription.name, entry_id.decode(), _decode(fields))
            for _, entries in answer or ()
            for entry_id, fields in entries
            if fields  # a trimmed entry still pending reads back empty
        ]

    async def claim_stale(self) -> list[PendingDelivery]:
        """Entries a worker that died had read but not finished."""
        answer: Any = await self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, self.settings.claim_idle_ms, "0-0", count=READ_COUNT
        )
        claimed = answer[1]
        return [
            PendingDelivery(self.subscription.name, entry_id.decode(), _decode(fields))
            for entry_id, fields in claimed
            if fields
        ]

    async def send_due_retries(self) -> bool:
        now = self.clock()
        lease = now + 2 * self.settings.webhook_timeout_s + 30
        due = await self._lease_due(keys=[self.keys["retries"]], args=[now, lease, READ_COUNT])
        if not due:
            return False
        deliveries: list[tuple[PendingDelivery, int]] = []
        for raw in due:
            entry_id = raw.decode()
            attempts = int(await self.redis.hget(self.keys["attempts"], entry_id) or 0)
            found = await self.redis.xrange(self.stream, entry_id, entry_id)
            if not found:
                await self.dead_letter(
                    PendingDelivery(self.subscription.name, entry_id, {}),
                    attempts,
                    "the entry was trimmed from the subscription stream before it could be delivered",
                )
                continue
            delivery = PendingDelivery(self.subscription.name, entry_id, _decode(found[0][1]))
            deliveries.append((delivery, attempts))
        await self._send_all(deliveries, from_stream=False)
        return True

    async def send(self, deliveries: Sequence[PendingDelivery]) -> None:
        await self._send_all([(delivery, 0) for delivery in deliveries], from_stream=True)

    async def _send_all(
        self, deliveries: Sequence[tuple[PendingDelivery, int]], *, from_stream: bool
    ) -> None:
        if not deliveries:
            return

        async def one(delivery: PendingDelivery, attempts: int) -> None:
            async with self.semaphore:
                await self.attempt(delivery, attempts, from_stream=from_stream)

        if self.settings.webhook_concurrency == 1:
            for delivery, attempts in deliveries:  # strictly in order
                await one(delivery, attempts)
        else:
            await asyncio.gather(*(one(delivery, attempts) for delivery, attempts in deliveries))

    async def attempt(self, delivery: PendingDelivery, attempts_before: int, *, from_stream: bool) -> None:
        now = self.clock()
        secrets = [s.value for s in live_secrets(await self.store.secrets(self.subscription.name), now)]
        body = delivery.body()
        timestamp = int(now)
        headers = {
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, delivery.webhook_id, timestamp, body),
        }
        result = await self.sender.send(self.url, headers, body)
        attempts = attempts_before + 1
        outcome = classify(result.status)
        if self.metrics is not None:
            self.metrics.webhook_attempted(self.subscription.name, outcome, result.duration_ms / 1000)
        fields = {
            "webhook_id": delivery.webhook_id,
            "entry_id": delivery.entry_id,
            "article_id": delivery.article_id,
            "attempt": attempts,
            "http_status": result.status,
            "duration_ms": result.duration_ms,
        }
        if outcome == "success":
            await self._succeeded(delivery, from_stream=from_stream)
            self._log.info("webhook.delivered", **fields)
            return
        if outcome == "gone":
            await self._schedule(delivery, attempts, 0.0, from_stream=from_stream)
            await self.disable("the endpoint answered 410 Gone")
            return
        delay = self.policy.delay_after(attempts, result.retry_after)
        error = result.error or f"HTTP {result.status}"
        if delay is None:
            await self.dead_letter(delivery, attempts, error, from_stream=from_stream)
        else:
            await self._schedule(delivery, attempts, delay, from_stream=from_stream)
            self._log.warning("webhook.failed", error=error, retry_in_s=round(delay, 2), **fields)
        await self._note_failure(now)

    async def _succeeded(self, delivery: PendingDelivery, *, from_stream: bool) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys["retries"], delivery.entry_id)
            pipe.hdel(self.keys["attempts"], delivery.entry_id)
            pipe.hdel(self.keys["endpoint"], "failing_since")
            if from_stream:
                pipe.xack(self.stream, GROUP, delivery.entry_id)
            await pipe.execute()

    async def _schedule(
        self, delivery: PendingDelivery, attempts: int, delay: float, *, from_stream: bool
    ) -> None:
        # One transaction: the retry set owns the delivery before the stream lets go of it.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.keys["retries"], {delivery.entry_id: self.clock() + delay})
            pipe.hset(self.keys["attempts"], delivery.entry_id, attempts)
            if from_stream:
                pipe.xack(self.stream, GROUP, delivery.entry_id)
            await pipe.execute()

    async def dead_letter(
        self, delivery: PendingDelivery, attempts: int, error: str, *, from_stream: bool = False
    ) -> None:
        letter = DeadLetter(
            stage=DEAD_LETTER_STAGE,
            stream=self.stream,
            entry_id=delivery.entry_id,
            article_id=delivery.article_id or "unknown",
            error=error,
            deliveries=attempts,
            payload=delivery.body() if delivery.fields else b"",
            failed_at=self.clock(),
        )
        await self.dead_letters.put(letter)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys["retries"], delivery.entry_id)
            pipe.hdel(self.keys["attempts"], delivery.entry_id)
            if from_stream:
                pipe.xack(self.stream, GROUP, delivery.entry_id)
            await pipe.execute()
        self._log.error(
            "webhook.dead_lettered",
            webhook_id=delivery.webhook_id,
            entry_id=delivery.entry_id,
            attempts=attempts,
            error=error,
        )

    async def _note_failure(self, now: float) -> None:
        await self.redis.hsetnx(self.keys["endpoint"], "failing_since", now)
        since = float(await self.redis.hget(self.keys["endpoint"], "failing_since") or now)
        if now - since >= self.settings.webhook_disable_after_s:
            await self.disable(f"failing without a success for {round(now - since)} s")

    async def disable(self, reason: str) -> None:
        await self.redis.hset(
            self.keys["endpoint"], mapping={"disabled_at": self.clock(), "disabled_reason": reason}
        )
        self._log.error(
            EVENT_DISABLED,
            reason=reason,
            hint="re-enable with: newswire replay <subscription> --since <time>",
        )


class WebhookDispatcher:
    """Keeps one worker per webhook subscription, following subscription changes within a second."""

    def __init__(
        self,
        redis: aioredis.Redis,
        store: SubscriptionStore,
        settings: Settings,
        consumer: str,
        resolver: Resolver | None = None,
        metrics: StageMetrics | None = None,
    ) -> None:
        self.redis = redis
        self.store = store
        self.settings = settings
        self.consumer = consumer
        self.resolver = resolver or SystemResolver()
        self.metrics = metrics
        self._workers: dict[str, tuple[Subscription, asyncio.Task[None], WebhookSender]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task, STOP_TIMEOUT_S)
        for name in list(self._workers):
            await self._stop_worker(name)

    async def _supervise(self) -> None:
        version: int | None = None
        while True:
            try:
                current = await self.store.version()
                crashed = [name for name, (_, task, _) in self._workers.items() if task.done()]
                if current != version or crashed:
                    await self._sync([s for s in await self.store.list() if s.webhook is not None], crashed)
                    version = current
            except (RedisError, OSError) as error:
                log.warning("webhook.dispatcher_error", error=str(error))
            await asyncio.sleep(SUPERVISE_INTERVAL_S)

    async def _sync(self, wanted: list[Subscription], crashed: list[str]) -> None:
        by_name = {sub.name: sub for sub in wanted}
        for name in list(self._workers):
            if by_name.get(name) != self._workers[name][0] or name in crashed:
                task = self._workers[name][1]
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("webhook.worker_crashed", subscription=name, error=repr(task.exception()))
                await self._stop_worker(name)
        for name, sub in by_name.items():
            if name not in self._workers:
                sender = WebhookSender(
                    self.resolver,
                    self.settings.webhook_allow_hosts,
                    self.settings.webhook_timeout_s,
                    self.settings.webhook_concurrency,
                )
                worker = EndpointWorker(
                    self.redis, self.store, sub, sender, self.settings, self.consumer, metrics=self.metrics
                )
                task = asyncio.get_running_loop().create_task(worker.run(), name=f"webhook-{name}")
                self._workers[name] = (sub, task, sender)
                log.info("webhook.worker_started", subscription=name)

    async def _stop_worker(self, name: str) -> None:
        _, task, sender = self._workers.pop(name)
        if not await stop_task(task, STOP_TIMEOUT_S):
            log.error("webhook.worker_not_stopped", subscription=name, after_s=STOP_TIMEOUT_S)
        await sender.aclose()


__all__ = ["GROUP", "EndpointWorker", "PendingDelivery", "WebhookDispatcher", "webhook_id"]
