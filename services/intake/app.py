"""Intake's HTTP API: accept articles, publish them to ``articles.received``, report their status.

Plain FastAPI; its lifespan owns the FastStream broker (``faststream.redis.fastapi`` is
deprecated). Nothing that fails validation reaches a stream; a Redis outage answers 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from redis.exceptions import RedisError

from services.intake.normalise import InputError, InputKind, read_input
from services.intake.problems import EXCEPTION_HANDLERS, Problem
from shared.health import CONSUMER_SERVICES, read_heartbeats, readiness
from shared.messages import ARTICLES_RECEIVED, Article, ArticleReceived
from shared.ninjs import to_ninjs
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER, make_broker
from shared.status import RedisStatusStore, StatusStore, StatusUpdate

log = structlog.stdlib.get_logger("newswire.intake")

JSON_TYPES = ("application/json",)
TEXT_TYPES = ("text/plain",)
HTML_TYPES = ("text/html", "application/xhtml+xml")


class ArticleSink(Protocol):
    """Where accepted articles go (the ``articles.received`` stream in production)."""

    async def submit(self, event: ArticleReceived) -> None: ...


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


_STATUS_OF_INPUT_ERROR = {"malformed-json": 400, "undecodable": 400}
_TITLES = {
    "malformed-json": "Malformed JSON",
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


def _read_article(media: str, charset: str | None, body: bytes) -> Article:
    """Validate and normalise a request body into an Article, or raise a Problem."""
    kind = _input_kind(media)
    try:
        return read_input(kind, body, charset=charset)
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


def create_app(
    settings: Settings | None = None,
    *,
    sink: ArticleSink | None = None,
    status: StatusStore | None = None,
    redis: aioredis.Redis | None = None,
) -> FastAPI:
    """Intake's composition root. Without injected parts it talks to ``settings.redis_url``."""
    settings = settings or Settings()
    broker: RedisBroker | None = None
    if sink is None:
        broker = make_broker(settings)
        sink = BrokerSink(broker)
    if redis is None and (status is None or broker is not None):
        redis = aioredis.Redis.from_url(settings.resolved_redis_url)
    if status is None:
        assert redis is not None
        status = RedisStatusStore(redis, settings.article_ttl_hours * 3600)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if broker is not None:
            await broker.connect()
        log.info("service.started", http_port=settings.http_port)
        try:
            yield
        finally:
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

    @app.post("/v1/articles", status_code=202, tags=["articles"])
    async def submit_article(request: Request) -> JSONResponse:
        """Accept one article: JSON input item, a scraped page (text/plain) or an HTML page."""
        structlog.contextvars.clear_contextvars()
        media, charset = _media_type(request)
        try:
            body = await _read_body(request, settings.max_body_bytes)
            article = _read_article(media, charset, body)
        except Problem as problem:
            metrics.rejected.labels(problem.kind).inc()
            log.info("article.rejected", reason=problem.kind, status=problem.status)
            raise
        structlog.contextvars.bind_contextvars(article_id=article.id, stage="intake")
        try:
            await sink.submit(ArticleReceived(article=article))
            await status.record(StatusUpdate.reached(article.id, "received", document=to_ninjs(article)))
        except (RedisError, OSError) as error:
            log.warning("article.unavailable", error=str(error))
            raise Problem(503, "unavailable", "Service unavailable",
                          "The article store is unreachable; retry later.",
                          headers={"Retry-After": "5"}) from error  # fmt: skip
        metrics.accepted.labels(article.format).inc()
        log.info("article.received", format=article.format, paragraphs=len(article.body))
        return JSONResponse(
            {"id": article.id, "status": "received"},
            status_code=202,
            headers={"Location": f"/v1/articles/{article.id}"},
        )

    @app.get("/v1/articles/{article_id}", tags=["articles"])
    async def get_article(article_id: str) -> dict[str, Any]:
        """The article's state (received, tagged, unique, duplicate, delivered, ...) and ninjs."""
        try:
            found = await status.get(article_id)
        except (RedisError, OSError) as error:
            raise Problem(503, "unavailable", "Service unavailable",
                          "The article store is unreachable; retry later.",
                          headers={"Retry-After": "5"}) from error  # fmt: skip
        if found is None:
            raise Problem(404, "unknown-article", "Unknown article", f"No article {article_id!r}.")
        return found.as_json()

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

    return app
