"""Intake's HTTP API: accept articles, publish them to ``articles.received``, report their status.

Plain FastAPI; its lifespan owns the FastStream broker (``faststream.redis.fastapi`` is
deprecated). Nothing that fails validation reaches a stream; a Redis outage answers 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis.asyncio as aioredis
import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from redis.exceptions import RedisError

from services.intake.access import (
    Access,
    InMemoryRateLimiter,
    Principal,
    RateLimiter,
    RedisRateLimiter,
    require_access,
    unavailable,
)
from services.intake.asyncapi import asyncapi_document
from services.intake.feeds import (
    FeedPoller,
    FeedStateStore,
    Fetcher,
    HttpxFetcher,
    InMemoryFeedStateStore,
    RedisFeedStateStore,
)
from services.intake.idempotency import (
    IdempotencyKey,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from services.intake.normalise import InputError, InputKind, read_input
from services.intake.overload import SubmissionGate
from services.intake.pages import PageReaders
from services.intake.problems import EXCEPTION_HANDLERS, Problem
from services.intake.redis_accept import RedisIntake
from services.intake.submission import (
    Accepted,
    Acceptor,
    ArticleSink,
    Intake,
    StoreUnavailableError,
    SubmissionConflictError,
)
from services.intake.subscriptions import subscription_routes
from shared.health import CONSUMER_SERVICES, read_heartbeats, readiness
from shared.messages import ARTICLES_RECEIVED, Article, ArticleReceived
from shared.redis_client import redis_client
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER, make_broker
from shared.status import RedisStatusStore, StatusStore
from shared.subscriptions import SubscriptionStore
from shared.tasks import stop_task

log = structlog.stdlib.get_logger("newswire.intake")

JSON_TYPES = ("application/json",)
TEXT_TYPES = ("text/plain",)
HTML_TYPES = ("text/html", "application/xhtml+xml")


class BrokerSink:
    def __init__(self, broker: RedisBroker) -> None:
        self._publisher = broker.publisher(stream=ARTICLES_RECEIVED)

    async def submit(self, event: ArticleReceived) -> None:
        await self._publisher.publish(event, headers={ARTICLE_ID_HEADER: event.article.id})


class InMemorySink:
    def __init__(self) -> None:
        self.events: list[ArticleReceived] = []

    async def submit(self, event: ArticleReceived) -> None:
        self.events.append(event)


def _media_type(request: Request) -> tuple[str, str | None]:
    raw = request.headers.get("content-type", "")
    media, _, params = raw.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    return media.strip().lower(), charset


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    if not body.strip():
        raise Problem(400, "empty-body", "Empty body", "The request body is empty.")
    return bytes(body)


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "too-large", "Body too large", f"The request body exceeds the limit of {limit} bytes."
    )


_STATUS_OF_INPUT_ERROR = {"malformed-json": 400, "undecodable": 400, "too-deep": 400}
_TITLES = {
    "malformed-json": "Malformed JSON",
    "too-deep": "JSON nested too deeply",
    "undecodable": "Undecodable text",
    "invalid-article": "The article is not valid",
    "unreadable-article": "No article found",
}


def _input_kind(media: str) -> InputKind:
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in TEXT_TYPES:
        return "text"
    if media in HTML_TYPES:
        return "html"
    raise Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        f"Content-Type {media or '(none)'!r} is not accepted; use application/json, "
        "text/plain (a scraped page) or text/html.",
    )


async def _read_article(
    pages: PageReaders, media: str, charset: str | None, body: bytes, *, ninjs: bool = False
) -> Article:
    """Validate and normalise a request body into an Article, or raise a Problem.

    HTML (a page, or a JSON item that may carry one) is read in a worker process; the rest here.
    """
    kind = _input_kind(media)
    try:
        if kind == "html" or (kind == "json" and b'"html"' in body):
            return await pages.run(read_input, kind, body, charset=charset, ninjs=ninjs)
        return read_input(kind, body, charset=charset, ninjs=ninjs)
    except InputError as error:
        status = _STATUS_OF_INPUT_ERROR.get(error.kind, 422)
        raise Problem(status, error.kind, _TITLES[error.kind], str(error), error.errors) from error


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "newswire_intake_accepted", "Articles accepted", ["format"], registry=self.registry
        )
        self.rejected = Counter(
            "newswire_intake_rejected", "Requests rejected", ["reason"], registry=self.registry
        )


IDEMPOTENCY_KEY_HEADER = "idempotency-key"


def _header_key(request: Request, principal: Principal) -> IdempotencyKey | None:
    value = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    if not 0 < len(value) <= 255 or not value.isprintable():
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "An Idempotency-Key is 1 to 255 printable characters.",
        )
    return IdempotencyKey.for_header(value, principal.id)


def _conflict(conflict: SubmissionConflictError) -> Problem:
    if conflict.claim.outcome == "in_progress":
        return Problem(
            409,
            "submission-in-progress",
            "Submission in progress",
            f"Article {conflict.claim.article_id} is being submitted under the same key; retry shortly.",
            headers={"Retry-After": "1"},
        )
    return Problem(
        409,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        f"This Idempotency-Key was used for other content (article {conflict.claim.article_id}).",
    )


def _accepted_response(accepted: Accepted) -> JSONResponse:
    answer: dict[str, Any] = {"id": accepted.article_id, "version": accepted.version, "status": "received"}
    if accepted.duplicate:
        answer["duplicate_submission"] = True
    return JSONResponse(answer, status_code=202, headers={"Location": f"/v1/articles/{accepted.article_id}"})


def _submission_path(
    settings: Settings,
    sink: ArticleSink | None,
    status: StatusStore,
    redis: aioredis.Redis | None,
    idempotency: IdempotencyStore | None,
) -> Acceptor:
    """One Redis round trip per article when every part is Redis; else the parts as given."""
    ttl_s = settings.article_ttl_hours * 3600
    if sink is None:
        assert redis is not None
        return RedisIntake(redis, article_ttl_s=ttl_s, timeout_s=settings.redis_timeout_s)
    if idempotency is None:
        idempotency = (
            RedisIdempotencyStore(redis, ttl_s) if redis is not None else InMemoryIdempotencyStore(ttl_s)
        )
    return Intake(sink, status, idempotency, settings.redis_timeout_s)


def _access(settings: Settings, redis: aioredis.Redis | None, rate_limiter: RateLimiter | None) -> Access:
    if rate_limiter is None and settings.rate_limit_per_minute:
        per_minute = settings.rate_limit_per_minute
        rate_limiter = (
            RedisRateLimiter(redis, per_minute) if redis is not None else InMemoryRateLimiter(per_minute)
        )
    keys = [key.get_secret_value() for key in settings.api_keys]
    return Access(keys, rate_limiter, settings.redis_timeout_s)


def _feed_poller(
    settings: Settings,
    intake: Acceptor,
    redis: aioredis.Redis | None,
    fetcher: Fetcher | None,
    state: FeedStateStore | None,
) -> FeedPoller | None:
    if not settings.feeds:
        return None
    if state is None:
        state = RedisFeedStateStore(redis) if redis is not None else InMemoryFeedStateStore()
    return FeedPoller(
        settings.feeds,
        fetcher=fetcher or HttpxFetcher(settings.feed_timeout_s),
        state=state,
        intake=intake,
        interval_s=settings.feed_interval_s,
        max_backoff_s=settings.feed_max_backoff_s,
        fetch_pages=settings.feed_fetch_pages,
    )


def create_app(
    settings: Settings | None = None,
    *,
    sink: ArticleSink | None = None,
    status: StatusStore | None = None,
    redis: aioredis.Redis | None = None,
    subscriptions: SubscriptionStore | None = None,
    idempotency: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
    feed_fetcher: Fetcher | None = None,
    feed_state: FeedStateStore | None = None,
) -> FastAPI:
    """Intake's composition root. Without injected parts it talks to ``settings.redis_url``."""
    settings = settings or Settings()
    broker: RedisBroker | None = None
    if sink is None and (status is not None or idempotency is not None):
        # Some parts injected, the stream not: publish through FastStream, step by step.
        broker = make_broker(settings)
        sink = BrokerSink(broker)
    if redis is None and (status is None or sink is None):
        # Bounded socket timeouts: an unreachable Redis answers 503, never a hang.
        redis = redis_client(
            settings.resolved_redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
    if status is None:
        assert redis is not None
        status = RedisStatusStore(redis, settings.article_ttl_hours * 3600)
    intake = _submission_path(settings, sink, status, redis, idempotency)
    access = _access(settings, redis, rate_limiter)
    poller = _feed_poller(settings, intake, redis, feed_fetcher, feed_state)
    metrics = Metrics()
    pages = PageReaders(settings.intake_page_workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if broker is not None:
            await broker.connect()
        pages.start()
        log.info("service.started", http_port=settings.http_port)
        polling = asyncio.create_task(poller.run(), name="feed-poller") if poller else None
        try:
            yield
        finally:
            if polling is not None:
                await stop_task(polling, timeout_s=settings.shutdown_grace_s)
            if poller is not None:
                await poller.aclose()
            pages.close()
            if broker is not None:
                await broker.stop()
            if redis is not None:
                await redis.aclose()
            log.info("service.stopped")

    app = FastAPI(
        title="newswire intake",
        version="0.1.0",
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]  # Starlette's Mapping type is narrower than needed
    )

    app.state.access = access  # read by require_access, also for routers included below
    app.add_middleware(
        SubmissionGate, limit=settings.intake_max_in_flight, on_shed=metrics.rejected.labels("overloaded").inc
    )

    @app.post(
        "/v1/articles",
        status_code=202,
        tags=["articles"],
        responses={
            400: {"description": "Empty body, malformed JSON, invalid UTF-8, JSON nested deeper than 32"},
            401: {"description": "API keys are configured and none valid was given"},
            409: {"description": "The same key is being submitted right now, or an Idempotency-Key "
                  "was reused for other content"},
            413: {"description": "Body larger than NEWSWIRE_MAX_BODY_BYTES"},
            415: {"description": "Content type not accepted"},
            422: {"description": "No acceptable article in the body"},
            429: {"description": "Rate limit used up; see Retry-After"},
            503: {"description": "Redis unreachable, or too many submissions in flight "
                  "(answered before the body is read); see Retry-After"},
        },
    )  # fmt: skip
    async def submit_article(
        request: Request, principal: Annotated[Principal, Depends(require_access)]
    ) -> JSONResponse:
        """Accept one article: a JSON input item, a ninjs document (2.x or 3.x; media type
        `application/ninjs+json`, or any JSON with `uri` and headlines/bodies), a scraped page
        (`text/plain`) or an HTML page. Answers `202 {"id", "version", "status"}`.

        Idempotency: an item's `guid` (within its `source`) or an `Idempotency-Key` header names the
        article. Submitting it again with the same content publishes nothing and answers 202 with the
        same id and `"duplicate_submission": true`; the same guid with changed content is published
        as a new version of the same article (same id, `version` + 1). An `Idempotency-Key` reused for
        other content answers 409. Without either, every submission is a new article.
        """
        structlog.contextvars.clear_contextvars()
        media, charset = _media_type(request)
        try:
            key = _header_key(request, principal)
            body = await _read_body(request, settings.max_body_bytes)
            ninjs = "ninjs" in request.headers.get("content-type", "").lower()
            article = await _read_article(pages, media, charset, body, ninjs=ninjs)
        except Problem as problem:
            metrics.rejected.labels(problem.kind).inc()
            log.info("article.rejected", reason=problem.kind, status=problem.status)
            raise
        if key is None and article.guid:
            key = IdempotencyKey.for_guid(article.guid, article.source)
        try:
            accepted = await intake.accept(article, key)
        except StoreUnavailableError as error:
            metrics.rejected.labels("unavailable").inc()
            log.warning("article.unavailable", error=str(error))
            raise unavailable() from error
        except SubmissionConflictError as conflict:
            metrics.rejected.labels(conflict.claim.outcome).inc()
            raise _conflict(conflict) from conflict
        structlog.contextvars.bind_contextvars(article_id=accepted.article_id, stage="intake")
        if accepted.duplicate:
            log.info("article.duplicate_submission", version=accepted.version)
        else:
            metrics.accepted.labels(article.format).inc()
            log.info(
                "article.received",
                format=article.format,
                paragraphs=len(article.body),
                version=accepted.version,
            )
        return _accepted_response(accepted)

    @app.get("/v1/articles/{article_id}", tags=["articles"])
    async def get_article(
        article_id: str, _: Annotated[Principal, Depends(require_access)]
    ) -> dict[str, Any]:
        """The article's state (received, tagged, unique, duplicate, delivered, ...) and ninjs."""
        try:
            async with asyncio.timeout(settings.redis_timeout_s):
                found = await status.get(article_id)
        except (RedisError, OSError, TimeoutError) as error:
            raise unavailable() from error
        if found is None:
            raise Problem(404, "unknown-article", "Unknown article", f"No article {article_id!r}.")
        return found.as_json()

    @app.get("/asyncapi", tags=["subscribers"])
    async def asyncapi() -> dict[str, Any]:
        """AsyncAPI 3.0 document of the subscriber streams and webhook deliveries."""
        return asyncapi_document(app.version)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Readiness: Redis answers and every subscriber of every consumer service runs."""
        report: dict[str, Any] = {"redis": False, "services": {}}
        if redis is not None:
            try:
                report["redis"] = bool(await redis.ping())
                beats = await read_heartbeats(redis)
                report["services"] = readiness(beats, CONSUMER_SERVICES)
            except (RedisError, OSError) as error:
                report["error"] = str(error)
        ready = report["redis"] and all(s["ready"] for s in report["services"].values())
        report["ready"] = ready
        return JSONResponse(report, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(subscription_routes(settings, redis, subscriptions))
    return app
