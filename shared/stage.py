"""How a consumer service reads its stage stream: the plumbing every stage shares.

Per stage, one consumer group (named after the service) is created at ``0`` on start-up, so
nothing published before the first start is skipped. Two FastStream subscribers read it: a
*reader* for new entries (``>``) and a *claimer* (XAUTOCLAIM) that takes over entries left
pending by a replica that died or failed. FastStream never retries on Redis by itself, and has
no delivery cap, so both are here: a failed entry stays pending, is claimed again after
``claim_idle_ms``, and after ``delivery_cap`` deliveries goes to the stage's dead-letter stream.

Per message the order is: publish the outputs, record the article's status, then XACK.
A crash anywhere in between yields a retry, never a loss; stages are idempotent.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
import structlog
from faststream import AckPolicy, FastStream
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from faststream.redis.publisher.usecase import StreamPublisher
from pydantic import BaseModel, ValidationError
from redis.exceptions import ResponseError

from shared.deadletter import DeadLetter, DeadLetterSink, RedisDeadLetters
from shared.health import HeartbeatReporter
from shared.settings import Settings
from shared.status import RedisStatusStore, StatusStore, StatusUpdate

EventT = TypeVar("EventT", bound=BaseModel)
ARTICLE_ID_HEADER = "article_id"
FASTSTREAM_LOGGER = "newswire.faststream"  # not "faststream": FastStream gives that one its own handler

log = structlog.stdlib.get_logger("newswire.stage")


@dataclass(frozen=True)
class Output:
    """One event to publish on a stage stream."""

    stream: str
    event: BaseModel
    article_id: str


@dataclass(frozen=True)
class StageResult:
    """What handling one message produced; ``outcome`` and ``log`` go into the canonical line."""

    outputs: tuple[Output, ...] = ()
    status: StatusUpdate | None = None
    outcome: str = "processed"
    log: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[EventT], Awaitable[StageResult]]


def consumer_name(service: str) -> str:
    """Unique per process, stable for its life: pending entries are owned by this name."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


async def ensure_group(client: aioredis.Redis, stream: str, group: str) -> None:
    """Create the group at ``0`` (FastStream would create it at ``$`` and skip the backlog)."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def make_broker(settings: Settings) -> RedisBroker:
    # FastStream's per-message lines go through structlog at DEBUG; ours is the canonical line.
    return RedisBroker(
        settings.resolved_redis_url,
        logger=logging.getLogger(FASTSTREAM_LOGGER),
        log_level=logging.DEBUG,
    )


class Stage(Generic[EventT]):
    """One input stream, read by a reader and a claimer, handled by one async function."""

    def __init__(
        self,
        runtime: ConsumerRuntime,
        input_stream: str,
        event_type: type[EventT],
        handler: Handler[EventT],
    ) -> None:
        self.runtime = runtime
        self.input_stream = input_stream
        self.event_type = event_type
        self.handler = handler
        settings = runtime.settings
        service = runtime.service
        reader = StreamSub(
            input_stream,
            group=service,
            consumer=runtime.consumer,
            max_records=settings.read_batch,
            polling_interval=settings.poll_interval_ms,
        )
        claimer = StreamSub(
            input_stream,
            group=service,
            consumer=f"{runtime.consumer}-claimer",
            min_idle_time=settings.claim_idle_ms,
            max_records=settings.read_batch,
            polling_interval=settings.poll_interval_ms,
        )
        broker = runtime.broker

        async def read(msg: RedisStreamMessage) -> None:
            await self.process(msg, claimed=False)

        async def claim(msg: RedisStreamMessage) -> None:
            await self.process(msg, claimed=True)

        read_subscriber = broker.subscriber(stream=reader, ack_policy=AckPolicy.MANUAL)
        read_subscriber(read)
        claim_subscriber = broker.subscriber(stream=claimer, ack_policy=AckPolicy.MANUAL)
        claim_subscriber(claim)
        self.subscribers = {
            f"{input_stream}:read": read_subscriber,
            f"{input_stream}:claim": claim_subscriber,
        }

    async def process(self, msg: RedisStreamMessage, *, claimed: bool) -> None:
        structlog.contextvars.clear_contextvars()
        entry_ids = msg.raw_message.get("message_ids") or ()
        entry_id = entry_ids[0].decode() if entry_ids else msg.message_id  # in-memory tests have none
        article_id = str(msg.headers.get(ARTICLE_ID_HEADER, "")) or "unknown"
        structlog.contextvars.bind_contextvars(
            stage=self.runtime.service, article_id=article_id, entry_id=entry_id
        )
        deliveries = await msg.get_delivery_count() if claimed else 1
        cap = self.runtime.settings.delivery_cap
        if deliveries > cap:
            await self.dead_letter(
                msg,
                entry_id,
                article_id,
                deliveries,
                "delivery cap exceeded without completing (the process handling it died or hung)",
            )
            return
        started = time.perf_counter()
        try:
            event = self.event_type.model_validate_json(msg.body)
        except ValidationError as error:
            # Retrying cannot fix a message that does not decode: dead-letter it now.
            await self.dead_letter(msg, entry_id, article_id, deliveries, f"undecodable: {error}")
            return
        try:
            result = await self.handler(event)
            for output in result.outputs:
                await self.runtime.publish(output)
            if result.status is not None:
                await self.runtime.status.record(result.status)
        except Exception as error:
            if deliveries >= cap:
                await self.dead_letter(msg, entry_id, article_id, deliveries, _describe(error))
            else:
                log.warning(
                    "message.failed",
                    deliveries=deliveries,
                    will_retry=True,
                    error=_describe(error),
                    exc_info=True,
                )
            return
        await msg.ack()
        log.info(
            "message.processed",
            outcome=result.outcome,
            deliveries=deliveries,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            **result.log,
        )

    async def dead_letter(
        self,
        msg: RedisStreamMessage,
        entry_id: str,
        article_id: str,
        deliveries: int,
        error: str,
    ) -> None:
        letter = DeadLetter(
            stage=self.runtime.service,
            stream=self.input_stream,
            entry_id=entry_id,
            article_id=article_id,
            error=error,
            deliveries=deliveries,
            payload=msg.body,
            failed_at=time.time(),
        )
        await self.runtime.dead_letters.put(letter)
        if article_id != "unknown":
            await self.runtime.status.record(
                StatusUpdate.dead_lettered(article_id, self.runtime.service, error)
            )
        await msg.ack()
        log.error("message.dead_lettered", deliveries=deliveries, error=error)


def _describe(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(error)).strip()


class ConsumerRuntime:
    """The composition of one consumer service: broker, Redis client, stores, stages, heartbeat."""

    def __init__(
        self,
        service: str,
        settings: Settings,
        *,
        broker: RedisBroker | None = None,
        redis: aioredis.Redis | None = None,
        status: StatusStore | None = None,
        dead_letters: DeadLetterSink | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.consumer = consumer_name(service)
        self.broker = broker or make_broker(settings)
        self.redis = redis or aioredis.Redis.from_url(settings.resolved_redis_url)
        self.status = status or RedisStatusStore(self.redis, settings.article_ttl_hours * 3600)
        self.dead_letters = dead_letters or RedisDeadLetters(self.redis)
        self.stages: list[Stage[Any]] = []
        self._publishers: dict[str, StreamPublisher] = {}
        self.heartbeat = HeartbeatReporter(
            self.redis, service, self.consumer, self.subscribers_running,
            settings.heartbeat_interval_s,
        )  # fmt: skip

    def stage(
        self,
        input_stream: str,
        event_type: type[EventT],
        handler: Handler[EventT],
        outputs: tuple[str, ...] = (),
    ) -> Stage[EventT]:
        for stream in outputs:
            self._publishers[stream] = self.broker.publisher(stream=stream)
        stage = Stage(self, input_stream, event_type, handler)
        self.stages.append(stage)
        return stage

    async def publish(self, output: Output) -> None:
        await self._publishers[output.stream].publish(
            output.event, headers={ARTICLE_ID_HEADER: output.article_id}
        )

    def subscribers_running(self) -> dict[str, bool]:
        return {
            name: bool(subscriber.running)
            for stage in self.stages
            for name, subscriber in stage.subscribers.items()
        }

    async def _start(self) -> None:
        for stage in self.stages:
            await ensure_group(self.redis, stage.input_stream, self.service)

    async def _started(self) -> None:
        self.heartbeat.start()
        log.info("service.started", consumer=self.consumer)

    async def _stopping(self) -> None:
        await self.heartbeat.stop()

    async def _stopped(self) -> None:
        await self.redis.aclose()
        log.info("service.stopped", consumer=self.consumer)

    def app(self) -> FastStream:
        return FastStream(
            self.broker,
            logger=logging.getLogger(FASTSTREAM_LOGGER),
            on_startup=[self._start],
            after_startup=[self._started],
            on_shutdown=[self._stopping],
            after_shutdown=[self._stopped],
        )
