"""How a consumer service reads its stage stream: the plumbing every stage shares.

Per stage, one consumer group (named after the service) is created at ``0`` on start-up, so
nothing published before the first start is skipped. Two FastStream subscribers read it: a
*reader* for new entries (``>``) and a *claimer* (XAUTOCLAIM) that takes over entries left
pending by a replica that died or failed. FastStream never retries on Redis by itself, and has
no delivery cap, so both are here: a failed entry stays pending, is claimed again after
``claim_idle_ms``, and after ``delivery_cap`` deliveries goes to the stage's dead-letter stream.

The reader takes up to ``read_batch`` entries at a time and handles them one by one, in order;
then, for the batch, one pipelined write of every output, one of every status record, and one
XACK of the entries that were handled. The order is always: publish the outputs, record the
article's status, then XACK. A crash anywhere in between yields a retry, never a loss; stages are
idempotent. A stage may have several readers (consumers of the group named after the process):
their batches are in hand at the same time and finish in any order (a handler that needs read
order keeps it itself, as dedup's does). An entry whose handler raised is not acknowledged: it
stays pending for the claimer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import uuid4

import redis.asyncio as aioredis
import structlog
from faststream import AckPolicy, FastStream
from faststream.redis import RedisBroker, StreamSub, message
from faststream.redis.annotations import RedisBatchStreamMessage, RedisStreamMessage
from faststream.redis.message import bDATA_KEY
from faststream.redis.parser import BinaryMessageFormatV1
from faststream.redis.publisher.usecase import StreamPublisher
from faststream.redis.response import RedisPublishCommand
from faststream.response.publish_type import PublishType
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from redis.exceptions import ResponseError

from shared.deadletter import DeadLetter, DeadLetterSink, RedisDeadLetters
from shared.health import HeartbeatReporter
from shared.messages import dead_letter_stream
from shared.metrics import StageMetrics, metrics_port, received_at_of
from shared.redis_client import redis_client
from shared.settings import Settings
from shared.status import RedisStatusStore, StatusStore, StatusUpdate
from shared.streams import AUDIT_STREAMS, StreamInspector, safe_trim_id
from shared.tasks import stop_task

EventT = TypeVar("EventT", bound=BaseModel)
ARTICLE_ID_HEADER = "article_id"
JSON_CONTENT_TYPE = "application/json"  # the content type FastStream gives the events it encodes
RELEASED_CONSUMER = "released"  # owns entries a stopping replica handed back, until a claimer takes them
FASTSTREAM_LOGGER = "newswire.faststream"  # not "faststream": FastStream gives that one its own handler
REDIS_TIMEOUT_S = 10.0

log = structlog.stdlib.get_logger("newswire.stage")


@dataclass(frozen=True)
class Output:
    """One event to publish on a stage stream.

    ``adds_to_input``: the event is the input entry's JSON object with these members added (dedup
    adds its verdict to the tagged article). The stage then publishes that JSON, the input as it
    was read and validated, instead of encoding the whole event again: for dedup's 5 KB articles,
    encoding was ~6% of the process's CPU. The handler vouches that the two are the same event.
    """

    stream: str
    event: BaseModel
    article_id: str
    adds_to_input: Mapping[str, BaseModel] | None = None

    def body(self, input_json: bytes) -> BaseModel | bytes:
        """What to publish: the event, or its JSON made from the input's."""
        if self.adds_to_input is None:
            return self.event
        return with_members(input_json, self.adds_to_input)


def with_members(document: bytes, members: Mapping[str, BaseModel]) -> bytes:
    """The JSON object ``document`` with ``members`` added at its end (the caller knows that it
    has none of their names)."""
    text = document.strip()
    if not text.startswith(b"{") or not text.endswith(b"}"):
        raise ValueError("the input is not a JSON object")
    inside = text[1:-1].strip()
    added = b",".join(json.dumps(name).encode() + b":" + to_json(value) for name, value in members.items())
    return b"{" + inside + (b"," if inside and added else b"") + added + b"}"


@dataclass(frozen=True)
class StageResult:
    """What handling one message produced; ``outcome`` and ``log`` go into the canonical line."""

    outputs: tuple[Output, ...] = ()
    status: StatusUpdate | None = None
    outcome: str = "processed"
    log: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[EventT], Awaitable[StageResult]]
# Results in the order of the events; an Exception in place of a result fails that event alone.
BatchHandler = Callable[[Sequence[EventT]], Awaitable[Sequence[StageResult | Exception]]]
AnyStreamMessage = message.RedisStreamMessage | message.RedisBatchStreamMessage


def consumer_name(service: str, pid: int | None = None) -> str:
    """Unique per process (this one, unless told), stable for its life: pending entries are owned
    by this name."""
    return f"{service}-{socket.gethostname()}-{os.getpid() if pid is None else pid}"


async def ensure_group(client: aioredis.Redis, stream: str, group: str) -> None:
    """Create the group at ``0`` (FastStream would create it at ``$`` and skip the backlog)."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class StopNoiseFilter(logging.Filter):
    """While a service stops, FastStream closes the Redis pool under a blocking XREADGROUP and logs
    "Message fetch error" at ERROR. That is the stop itself, not a fault: keep it out of alerts."""

    FETCH_ERROR = "Message fetch error"

    def __init__(self) -> None:
        super().__init__()
        self.stopping = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.stopping and record.getMessage() == self.FETCH_ERROR)


def make_broker(settings: Settings) -> RedisBroker:
    # FastStream's per-message lines go through structlog at DEBUG; ours is the canonical line.
    return RedisBroker(
        settings.resolved_redis_url,
        logger=logging.getLogger(FASTSTREAM_LOGGER),
        log_level=logging.DEBUG,
        graceful_timeout=settings.shutdown_grace_s,  # on stop, wait this long for handlers in flight
        socket_timeout=max(REDIS_TIMEOUT_S, settings.poll_interval_ms / 1000 * 3),  # above a read's BLOCK
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )


def entry_payload(fields: Mapping[bytes, bytes]) -> tuple[bytes, dict[str, Any]]:
    """The message and headers of one stream entry's fields, as FastStream's publishers wrote them.

    An entry some other client wrote (no ``__data__`` field) comes back as the JSON of its fields,
    so that it can be dead-lettered as undecodable with what it held.
    """
    data = fields.get(bDATA_KEY)
    if data is None:
        as_text = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
        return json.dumps(as_text, ensure_ascii=False).encode(), {}
    return BinaryMessageFormatV1.parse(data)


async def parse_batch_raw(
    raw: Mapping[str, Any], original: Callable[[Mapping[str, Any]], Awaitable[RedisBatchStreamMessage]]
) -> RedisBatchStreamMessage:
    """A read batch whose body is each entry's message as bytes, still undecoded.

    FastStream's own batch parser decodes every entry's JSON, encodes the whole batch as one JSON
    document and decodes that again before a handler sees it: three JSON passes, where pydantic
    needs one (``model_validate_json`` on the bytes). FastStream still builds the message (its
    consumer and group, which acknowledging relies on), from the batch without its entries: given
    even one, it decodes and encodes that entry's JSON again, ~8% of a one-entry read's CPU; the
    batch's headers and ids are then set from the first entry's, as FastStream sets them.
    """
    payloads: list[bytes] = []
    headers: list[dict[str, Any]] = []
    for fields in raw["data"]:
        payload, entry_headers = entry_payload(fields)
        payloads.append(payload)
        headers.append(entry_headers)
    message = await original({**raw, "data": []})
    if headers:  # the identity FastStream gives a batch: its first entry's (acks in memory use it)
        first = headers[0]
        message.headers = {**first, **message.headers}
        message.message_id = first.get("message_id", message.message_id)
        message.correlation_id = first.get("correlation_id", message.correlation_id)
    message.raw_message = raw  # type: ignore[assignment]  # the same batch, every entry included
    message.body = payloads
    message.batch_headers = headers
    return message


async def message_itself(message: AnyStreamMessage) -> AnyStreamMessage:
    """The decoder of the stage's subscribers: the handler gets the message as FastStream built it
    (a batch's entries still bytes, ``parse_batch_raw``), and decodes each entry itself.

    Asynchronous, and the handlers take the message as their body rather than through
    ``Context``: FastStream runs a synchronous decoder, and resolves every ``Context`` parameter,
    in a worker thread, each hop ~170 us of CPU here, per read.
    """
    return message


@dataclass
class Entry:
    """One stream entry of a batch on its way through the handler."""

    entry_id: str
    article_id: str
    body: bytes  # the message (the JSON of the event), as a dead letter keeps it
    deliveries: int
    handled_in: float = 0.0  # seconds the handler took


@dataclass
class Handled:
    entry: Entry
    event: BaseModel
    result: StageResult


class Stage(Generic[EventT]):
    """One input stream, read by a reader and a claimer, handled by one async function."""

    def __init__(
        self,
        runtime: ConsumerRuntime,
        input_stream: str,
        event_type: type[EventT],
        handler: Handler[EventT] | None = None,
        batch_handler: BatchHandler[EventT] | None = None,
        readers: int = 1,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("a stage has either a handler or a batch handler")
        self.runtime = runtime
        self.input_stream = input_stream
        self.event_type = event_type
        self.handler = handler
        self.batch_handler = batch_handler
        self.readers = readers
        settings = runtime.settings
        service = runtime.service
        broker = runtime.broker

        async def read(msg: Any) -> None:  # a RedisBatchStreamMessage (message_itself)
            await self.process_batch(msg)

        async def claim(msg: Any) -> None:  # a RedisStreamMessage (message_itself)
            await self.process_claimed(msg)

        self.subscribers: dict[str, Any] = {}
        for n, name in enumerate(runtime.reader_names(readers), start=1):
            reader = StreamSub(
                input_stream,
                group=service,
                consumer=name,
                batch=True,
                max_records=settings.read_batch,
                polling_interval=settings.poll_interval_ms,
            )
            read_subscriber = broker.subscriber(
                stream=reader, ack_policy=AckPolicy.MANUAL, parser=parse_batch_raw, decoder=message_itself
            )
            read_subscriber(read)
            self.subscribers[f"{input_stream}:read" + (f"{n}" if n > 1 else "")] = read_subscriber
        # FastStream's claimer takes one entry per XAUTOCLAIM: claims are the rare path.
        claimer = StreamSub(
            input_stream,
            group=service,
            consumer=runtime.claimer_name,
            min_idle_time=settings.claim_idle_ms,
            max_records=settings.read_batch,
            polling_interval=settings.poll_interval_ms,
        )
        claim_subscriber = broker.subscriber(
            stream=claimer, ack_policy=AckPolicy.MANUAL, decoder=message_itself
        )
        claim_subscriber(claim)
        self.subscribers[f"{input_stream}:claim"] = claim_subscriber

    async def process_batch(self, msg: RedisBatchStreamMessage) -> None:
        """New entries, read by ``>``: each is on its first delivery."""
        ids = [entry_id.decode() for entry_id in msg.raw_message.get("message_ids") or ()]
        bodies = msg.body  # bytes per entry (parse_batch_raw)
        headers = msg.batch_headers
        entries = [
            Entry(
                # In-memory test brokers give no entry ids: name the items by position.
                entry_id=ids[index] if index < len(ids) else f"{msg.message_id}-{index}",
                article_id=str(headers[index].get(ARTICLE_ID_HEADER, "")) or "unknown",
                body=body,
                deliveries=1,
            )
            for index, body in enumerate(bodies)
        ]
        await self.handle(entries, msg)

    async def process_claimed(self, msg: RedisStreamMessage) -> None:
        """An entry another consumer held too long (it died, hung, or its handler raised)."""
        entry_ids = msg.raw_message.get("message_ids") or ()
        entry_id = entry_ids[0].decode() if entry_ids else msg.message_id  # in-memory tests have none
        deliveries = await msg.get_delivery_count()
        if entry_ids and deliveries < 2:
            # A claim always counts as a delivery, so a count of 1 means no pending entry is left:
            # the reader acknowledged it after our XAUTOCLAIM picked it up. Nothing to do.
            # (Only real stream entries have ids and a pending list; the in-memory test broker
            # may hand a message to the claimer, without an id and with a count of 1.)
            log.debug("message.already_acknowledged", entry_id=entry_id)
            return
        article_id = str(msg.headers.get(ARTICLE_ID_HEADER, "")) or "unknown"
        await self.handle([Entry(entry_id, article_id, msg.body, deliveries)], msg)

    async def handle(self, entries: list[Entry], msg: AnyStreamMessage) -> None:
        """Handle the entries in order, then write the batch's outputs, statuses and acks."""
        decoded: list[tuple[Entry, EventT]] = []
        for entry in entries:
            with self._bound(entry):
                event = await self._decode(entry, msg)
            if event is not None:
                decoded.append((entry, event))
        if not decoded:
            return
        if self.batch_handler is not None:
            outcomes = await self._run_batch(decoded)
        else:
            outcomes = await self._run_one_by_one(decoded)
        handled: list[Handled] = []
        for (entry, event), outcome in zip(decoded, outcomes, strict=True):
            if isinstance(outcome, Exception):
                with self._bound(entry):
                    await self._handler_failed(entry, msg, outcome)
            else:
                handled.append(Handled(entry, event, outcome))
        if handled:
            await self._write(handled, msg)

    async def _run_one_by_one(self, decoded: list[tuple[Entry, EventT]]) -> list[StageResult | Exception]:
        assert self.handler is not None
        outcomes: list[StageResult | Exception] = []
        for entry, event in decoded:
            started = time.perf_counter()
            with self._bound(entry):
                try:
                    outcomes.append(await self.handler(event))
                except Exception as error:
                    outcomes.append(error)
            entry.handled_in = time.perf_counter() - started
            # A handler may never await (the tagger's is pure CPU): let the heartbeat, the metrics
            # and a stop get a turn between entries, so a batch can be cut off at the grace period.
            await asyncio.sleep(0)
        return outcomes

    async def _run_batch(self, decoded: list[tuple[Entry, EventT]]) -> list[StageResult | Exception]:
        assert self.batch_handler is not None
        started = time.perf_counter()
        try:
            outcomes = list(await self.batch_handler([event for _, event in decoded]))
            if len(outcomes) != len(decoded):
                raise RuntimeError(f"batch handler gave {len(outcomes)} results for {len(decoded)} events")
        except Exception as error:  # the whole batch failed: each entry is retried on its own
            outcomes = [error] * len(decoded)
        share = (time.perf_counter() - started) / len(decoded)
        for entry, _ in decoded:
            entry.handled_in = share
        return outcomes

    async def _write(self, handled: list[Handled], msg: AnyStreamMessage) -> None:
        """Publish every output, record every status, then acknowledge: one round trip each."""
        try:
            await self.runtime.publish_many(
                (output, output.body(item.entry.body)) for item in handled for output in item.result.outputs
            )
            await self.runtime.status.record_many(
                [item.result.status for item in handled if item.result.status is not None]
            )
            await self._ack(msg, [item.entry.entry_id for item in handled])
        except Exception as error:
            # Nothing of the batch was acknowledged: every entry stays pending and is claimed again,
            # one by one, so an entry that makes these writes fail (a poison) reaches its cap alone.
            for item in handled:
                with self._bound(item.entry):
                    await self._handler_failed(item.entry, msg, error)
            return
        for item in handled:
            with self._bound(item.entry):
                self._processed(item)

    @contextmanager
    def _bound(self, entry: Entry) -> Iterator[None]:
        structlog.contextvars.bind_contextvars(
            stage=self.runtime.service, article_id=entry.article_id, entry_id=entry.entry_id
        )
        try:
            yield
        finally:
            # The subscriber's task lives on: later lines (fetch errors) must not name this article.
            structlog.contextvars.clear_contextvars()

    async def _decode(self, entry: Entry, msg: AnyStreamMessage) -> EventT | None:
        """The entry's event, or None when it was dead-lettered (past the cap, or undecodable)."""
        if entry.deliveries > self.runtime.settings.delivery_cap:
            reason = "delivery cap exceeded without completing (the process handling it died or hung)"
            await self.dead_letter(entry, msg, reason)
            return None
        try:
            return self.event_type.model_validate_json(entry.body)
        except ValidationError as error:
            # Retrying cannot fix a message that does not decode: dead-letter it now.
            await self.dead_letter(entry, msg, f"undecodable: {error}")
            return None

    async def _handler_failed(self, entry: Entry, msg: AnyStreamMessage, error: Exception) -> None:
        """At the cap the entry is dead-lettered with the error; before it, left pending for a retry."""
        if entry.deliveries >= self.runtime.settings.delivery_cap:
            await self.dead_letter(entry, msg, _describe(error))
        else:
            self._failed(entry, error)

    def _failed(self, entry: Entry, error: BaseException) -> None:
        self.runtime.metrics.message_failed("retry")
        log.warning(
            "message.failed",
            deliveries=entry.deliveries,
            will_retry=True,
            error=_describe(error),
            exc_info=error,
        )

    def _processed(self, item: Handled) -> None:
        duration = item.entry.handled_in
        result = item.result
        self.runtime.metrics.message_processed(result.outcome, duration, received_at_of(item.event))
        log.info(
            "message.processed",
            outcome=result.outcome,
            deliveries=item.entry.deliveries,
            duration_ms=round(duration * 1000, 2),
            **result.log,
        )

    async def _ack(self, msg: AnyStreamMessage, entry_ids: list[str]) -> None:
        """XACK these entries of the message (a batch's others may still be pending)."""
        if not msg.raw_message.get("message_ids"):
            await msg.ack()  # an in-memory test message: nothing is pending in a real group
            return
        await self.runtime.redis.xack(self.input_stream, self.runtime.service, *entry_ids)

    async def dead_letter(self, entry: Entry, msg: AnyStreamMessage, error: str) -> None:
        letter = DeadLetter(
            stage=self.runtime.service,
            stream=self.input_stream,
            entry_id=entry.entry_id,
            article_id=entry.article_id,
            error=error,
            deliveries=entry.deliveries,
            payload=entry.body,
            failed_at=time.time(),
        )
        await self.runtime.dead_letters.put(letter)
        if entry.article_id != "unknown":
            try:
                await self.runtime.status.record(
                    StatusUpdate.dead_lettered(entry.article_id, self.runtime.service, error)
                )
            except Exception as status_error:
                # The letter is kept; a status that cannot be written (the very fault that
                # poisoned the message, say) must not keep it pending and letter it again.
                log.warning("status.unrecorded", error=_describe(status_error))
        await self._ack(msg, [entry.entry_id])
        self.runtime.metrics.message_failed("dead_lettered")
        log.error("message.dead_lettered", deliveries=entry.deliveries, error=error)


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
        # Timeouts: after Redis was killed and restarted, no call may wait forever on a dead socket.
        self.redis = redis or redis_client(
            settings.resolved_redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        self.status = status or RedisStatusStore(self.redis, settings.article_ttl_hours * 3600)
        self.dead_letters = dead_letters or RedisDeadLetters(self.redis)
        self.stages: list[Stage[Any]] = []
        self._publishers: dict[str, StreamPublisher] = {}
        self.metrics = StageMetrics(service)
        self.inspector = StreamInspector(self.redis)
        self._housekeeping: asyncio.Task[None] | None = None
        self._stop_noise = StopNoiseFilter()
        logging.getLogger(FASTSTREAM_LOGGER).addFilter(self._stop_noise)
        self.heartbeat = HeartbeatReporter(
            self.redis, service, self.consumer, self.subscribers_running,
            settings.heartbeat_interval_s,
        )  # fmt: skip

    def stage(
        self,
        input_stream: str,
        event_type: type[EventT],
        handler: Handler[EventT] | None = None,
        outputs: tuple[str, ...] = (),
        *,
        batch_handler: BatchHandler[EventT] | None = None,
        readers: int = 1,
    ) -> Stage[EventT]:
        """Read ``input_stream`` with ``handler`` (one event at a time) or ``batch_handler`` (a read
        batch at once, for handlers whose own I/O pipelines); either may publish on ``outputs``.

        ``readers`` > 1: that many read batches in hand at once, each read by its own consumer of
        the group, so one batch's Python work overlaps another's Redis round trips. Batches then
        finish out of order, as with replicas; a handler that needs read order keeps it itself
        (dedup's ``RedisDeduplicator.judge_many`` does).
        """
        for stream in outputs:
            self._publishers[stream] = self.broker.publisher(stream=stream)
        stage = Stage(self, input_stream, event_type, handler, batch_handler, readers)
        self.stages.append(stage)
        return stage

    async def publish_many(self, outputs: Iterable[tuple[Output, BaseModel | bytes]]) -> None:
        """Publish the outputs (each with its body: ``Output.body``) in order, in one pipelined
        round trip.

        Through the broker's producer, as its publishers do (``TestRedisBroker`` swaps it for its
        in-memory one), without the publisher itself: it deep-copies its stream settings twice per
        call, which cost more than encoding the message.
        """
        producer = self.broker.config.producer
        async with self.redis.pipeline(transaction=False) as pipe:
            for output, body in outputs:
                # FastStream names the content type of the events it encodes, not of bytes.
                headers = {ARTICLE_ID_HEADER: output.article_id}
                if isinstance(body, bytes):
                    headers = {"content-type": JSON_CONTENT_TYPE, **headers}
                command = RedisPublishCommand(
                    body,
                    stream=output.stream,
                    headers=headers,
                    correlation_id=str(uuid4()),
                    pipeline=pipe,
                    _publish_type=PublishType.PUBLISH,
                )
                await producer.publish(command)
            await pipe.execute()

    def reader_names(self, readers: int) -> list[str]:
        """Consumer names of a stage's readers: the process's name, then ``<name>-r2``, ..."""
        return [self.consumer, *(f"{self.consumer}-r{n}" for n in range(2, readers + 1))]

    @property
    def claimer_name(self) -> str:
        return f"{self.consumer}-claimer"

    def subscribers_running(self) -> dict[str, bool]:
        return {
            name: bool(subscriber.running)
            for stage in self.stages
            for name, subscriber in stage.subscribers.items()
        }

    async def _start(self) -> None:
        for stage in self.stages:
            await ensure_group(self.redis, stage.input_stream, self.service)

    async def refresh_stats(self) -> None:
        """Stream length, group lag and pending of the streams this service reads, as gauges."""
        self.metrics.streams_observed(await self.inspector.many(stage.input_stream for stage in self.stages))
        self.metrics.dead_letters.labels(self.service).set(
            await self.redis.xlen(dead_letter_stream(self.service))
        )

    def trimmed_streams(self) -> list[str]:
        """The streams this service trims: those it reads (its group exists), and audit outputs."""
        inputs = [stage.input_stream for stage in self.stages]
        return inputs + [stream for stream in self._publishers if stream in AUDIT_STREAMS]

    async def trim_streams(self) -> int:
        """Trim by MINID what every group is done with and is older than the retention window."""
        retention_ms = int(self.settings.stage_retention_hours * 3_600_000)
        floor = f"{int(time.time() * 1000) - retention_ms}-0"
        total = 0
        for stream in self.trimmed_streams():
            min_id = safe_trim_id(await self.inspector.stats(stream), age_floor_id=floor)
            if min_id is None:
                continue
            deleted = await self.inspector.trim(stream, min_id)
            if deleted:
                self.metrics.trimmed.labels(stream).inc(deleted)
                log.info("stream.trimmed", stream=stream, entries=deleted, min_id=min_id)
                total += deleted
        return total

    async def _housekeep(self) -> None:
        next_trim = time.monotonic()
        while True:
            try:
                await self.refresh_stats()
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + self.settings.trim_interval_s
                    await self.trim_streams()
            except Exception as error:  # a Redis outage: report it, try again next round
                log.warning("housekeeping.failed", error=_describe(error))
            await asyncio.sleep(self.settings.stats_interval_s)

    async def release_held(self) -> int:
        """Hand the entries this process still holds to the group, claimable at once.

        Called after the broker stopped: whatever a handler did not finish (the rest of a read
        batch, a handler cut off by the grace period) would otherwise wait ``claim_idle_ms``
        under a consumer name that never comes back. Then the names are removed from the group.
        """
        released = 0
        for stage in self.stages:
            stream, group = stage.input_stream, self.service
            for consumer in (*self.reader_names(stage.readers), self.claimer_name):
                held = await self.redis.xpending_range(
                    stream, group, min="-", max="+", count=10_000, consumername=consumer
                )
                ids: list[int | bytes | str | memoryview[int]] = [entry["message_id"] for entry in held]
                if ids:
                    await self.redis.xclaim(
                        stream, group, RELEASED_CONSUMER, min_idle_time=0, message_ids=ids,
                        idle=self.settings.claim_idle_ms, justid=True,
                    )  # fmt: skip
                    released += len(ids)
                    log.info("messages.released", stream=stream, consumer=consumer, entries=len(ids))
                await self.redis.xgroup_delconsumer(stream, group, consumer)
        return released

    async def _started(self) -> None:
        self.heartbeat.start()
        self._housekeeping = asyncio.get_running_loop().create_task(self._housekeep(), name="housekeeping")
        port = metrics_port(self.service, self.settings.metrics_port)
        if port is not None:
            try:
                served = self.metrics.serve(self.settings.http_host, port)
                log.info("metrics.serving", port=served)
            except OSError as error:
                log.warning("metrics.unavailable", port=port, error=str(error))
        log.info("service.started", consumer=self.consumer)

    async def _stopping(self) -> None:
        self._stop_noise.stopping = True
        # Stop reading first: the batches in hand finish (within the grace period) while the
        # heartbeat and housekeeping wind down, instead of new batches being read meanwhile.
        await asyncio.gather(
            *(subscriber.stop() for stage in self.stages for subscriber in stage.subscribers.values())
        )
        await self.heartbeat.stop()
        if self._housekeeping is not None:
            await stop_task(self._housekeeping, timeout_s=self.settings.stats_interval_s + 1)

    async def _stopped(self) -> None:
        try:
            await self.release_held()
        except Exception as error:  # Redis unreachable: the claimers take them after claim_idle_ms
            log.warning("messages.unreleased", error=_describe(error))
        self.metrics.close()
        await self.redis.aclose()
        logging.getLogger(FASTSTREAM_LOGGER).removeFilter(self._stop_noise)
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
