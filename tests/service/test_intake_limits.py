"""Intake's limits and access: bad bytes and deep JSON, API keys, rate limit, Redis outages (503)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from services.intake.access import InMemoryRateLimiter
from services.intake.app import InMemorySink, create_app
from services.intake.idempotency import Claim, IdempotencyKey, InMemoryIdempotencyStore
from shared.settings import Settings
from shared.status import ArticleStatus, InMemoryStatusStore, StatusUpdate

pytestmark = pytest.mark.service

PROBLEM = "application/problem+json"
ITEM = {"headline": "Ferry timetable changes", "body": "Fewer crossings at night.", "guid": "g-1"}
KEY, OTHER_KEY = "k-3f9a0c6e51d24b7a", "k-77b1e0d4c2a94f10"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class DownIdempotencyStore(InMemoryIdempotencyStore):
    """Redis refuses connections."""

    async def claim(self, key: IdempotencyKey, article_id: str, fingerprint: str) -> Claim:
        raise RedisConnectionError("Connection refused")


class HangingIdempotencyStore(InMemoryIdempotencyStore):
    """Redis accepted the connection and never answers."""

    async def claim(self, key: IdempotencyKey, article_id: str, fingerprint: str) -> Claim:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


class DownStatusStore(InMemoryStatusStore):
    async def get(self, article_id: str) -> ArticleStatus | None:
        raise RedisConnectionError("Connection refused")

    async def record(self, update: StatusUpdate) -> None:
        raise RedisConnectionError("Connection refused")


class DownRateLimiter:
    async def acquire(self, subject: str) -> float:
        raise RedisConnectionError("Connection refused")


def _app(sink: InMemorySink, settings: dict[str, Any] | None = None, **parts: Any) -> httpx.AsyncClient:
    parts.setdefault("status", InMemoryStatusStore())
    app = create_app(Settings(**(settings or {})), sink=sink, **parts)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
async def open_client(sink: InMemorySink) -> AsyncIterator[httpx.AsyncClient]:
    async with _app(sink) as http:
        yield http


@pytest.fixture
async def keyed_client(sink: InMemorySink) -> AsyncIterator[httpx.AsyncClient]:
    async with _app(sink, {"api_keys": f"{KEY},{OTHER_KEY}"}) as http:
        yield http


def _json(content: bytes) -> dict[str, Any]:
    return {"content": content, "headers": {"content-type": "application/json"}}


def _nested(depth: int) -> bytes:
    """An input item whose ``authors`` value nests ``depth`` levels in all."""
    return b'{"headline": "H", "body": "B", "authors": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


# --- bad bytes and over-deep JSON -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b'{"headline": "Caf\xe9", "body": "B"}', "undecodable"),  # Latin-1 byte in UTF-8 JSON
        (b'{"headline": "\xff\xfe", "body": "B"}', "undecodable"),
        (b'{"headline": "\\ud800", "body": "B"}', "malformed-json"),  # a lone surrogate escape
        (b'{"headline": "H", "body": "B", "n": 1' + b"1" * 5000 + b"}", "malformed-json"),
        (_nested(33), "too-deep"),
        (b"[" * 100_000 + b"]" * 100_000, "too-deep"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "too-deep"),
    ],
)
async def test_undecodable_and_over_deep_json_is_a_400_problem(
    open_client: httpx.AsyncClient, sink: InMemorySink, content: bytes, kind: str
) -> None:
    """Invalid UTF-8, lone surrogates, huge numbers and nesting past 32 levels (even 100,000 deep)
    answer 400 problems naming the fault; nothing is published."""
    response = await open_client.post("/v1/articles", **_json(content))
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith(f"/{kind}")
    assert sink.events == []


async def test_nesting_up_to_the_limit_is_judged_on_its_content(open_client: httpx.AsyncClient) -> None:
    """32 levels pass the depth check (the item is then refused for its content, 422, not 400)."""
    response = await open_client.post("/v1/articles", **_json(_nested(32)))
    assert response.status_code == 422


# --- API keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong"}, {"x-api-key": "wrong"}, {"authorization": f"Basic {KEY}"}],
)
async def test_without_a_valid_key_requests_are_401_with_www_authenticate(
    keyed_client: httpx.AsyncClient, sink: InMemorySink, headers: dict[str, str]
) -> None:
    """When keys are configured, a missing, wrong or wrongly presented key answers 401 problem+json."""
    response = await keyed_client.post("/v1/articles", json=ITEM, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert sink.events == []


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
async def test_a_valid_key_is_accepted_as_bearer_token_or_x_api_key(
    keyed_client: httpx.AsyncClient, sink: InMemorySink, header: str
) -> None:
    """Either header carries the key; each configured key works."""
    for key in (KEY, OTHER_KEY):
        value = f"Bearer {key}" if header == "authorization" else key
        item = ITEM | {"guid": f"g-{key}"}
        response = await keyed_client.post("/v1/articles", json=item, headers={header: value})
        assert response.status_code == 202
    assert len(sink.events) == 2


async def test_article_reads_need_a_key_and_probes_do_not(keyed_client: httpx.AsyncClient) -> None:
    """GET /v1/articles/{id} is protected; /healthz and /metrics answer without a key."""
    posted = await keyed_client.post("/v1/articles", json=ITEM, headers={"x-api-key": KEY})
    path = f"/v1/articles/{posted.json()['id']}"
    assert (await keyed_client.get(path)).status_code == 401
    assert (await keyed_client.get(path, headers={"x-api-key": KEY})).status_code == 200
    assert (await keyed_client.get("/healthz")).status_code == 200
    assert (await keyed_client.get("/metrics")).status_code == 200


async def test_keys_never_reach_the_logs(keyed_client: httpx.AsyncClient) -> None:
    """Neither an accepted nor a refused key appears in any log event."""
    with capture_logs() as logs:
        await keyed_client.post("/v1/articles", json=ITEM, headers={"x-api-key": KEY})
        await keyed_client.post("/v1/articles", json=ITEM, headers={"x-api-key": "refused-secret"})
    assert logs
    assert KEY not in repr(logs) and "refused-secret" not in repr(logs)


async def test_idempotency_keys_are_scoped_per_api_key(
    keyed_client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """Two callers using the same Idempotency-Key value do not collide."""
    item = {"headline": "H", "body": "B"}
    for key in (KEY, OTHER_KEY):
        response = await keyed_client.post(
            "/v1/articles", json=item, headers={"x-api-key": key, "idempotency-key": "same"}
        )
        assert response.status_code == 202
    assert len({event.article.id for event in sink.events}) == 2


# --- rate limit -------------------------------------------------------------------------------


async def test_the_rate_limit_answers_429_with_retry_after_per_key(sink: InMemorySink) -> None:
    """Three per minute: the fourth request of one key is 429 with Retry-After; another key is
    unaffected; after the wait the key may send again."""
    clock = Clock()
    limiter = InMemoryRateLimiter(3, clock=clock)
    settings = {"api_keys": f"{KEY},{OTHER_KEY}", "rate_limit_per_minute": 3}
    async with _app(sink, settings, rate_limiter=limiter) as http:
        mine = {"x-api-key": KEY}
        codes = [(await http.post("/v1/articles", json=ITEM, headers=mine)).status_code for _ in range(3)]
        limited = await http.post("/v1/articles", json=ITEM, headers=mine)
        other = await http.post("/v1/articles", json=ITEM, headers={"x-api-key": OTHER_KEY})
        clock.now += int(limited.headers["retry-after"])
        later = await http.post("/v1/articles", json=ITEM, headers=mine)
    assert codes == [202, 202, 202]
    assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert other.status_code == 202 and later.status_code == 202


async def test_the_rate_limit_from_settings_applies_without_keys(sink: InMemorySink) -> None:
    """NEWSWIRE_RATE_LIMIT_PER_MINUTE alone limits each client address; rejected requests publish nothing."""
    async with _app(sink, {"rate_limit_per_minute": 2}) as http:
        codes = [
            (await http.post("/v1/articles", json=ITEM | {"guid": f"g{i}"})).status_code for i in range(3)
        ]
    assert codes == [202, 202, 429]
    assert len(sink.events) == 2


# --- Redis unreachable ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "method"),
    [
        ({"idempotency": DownIdempotencyStore(3600)}, "post"),
        ({"idempotency": HangingIdempotencyStore(3600)}, "post"),
        ({"status": DownStatusStore()}, "post"),
        ({"status": DownStatusStore()}, "get"),
        ({"rate_limiter": DownRateLimiter()}, "post"),
    ],
)
async def test_an_unreachable_redis_answers_503_quickly(
    sink: InMemorySink, parts: dict[str, Any], method: str
) -> None:
    """Refused or hanging Redis (idempotency, status, rate limit) answers 503 with Retry-After
    within the configured time limit; never a 500, never a hang."""
    settings = {"redis_timeout_s": 0.2, "rate_limit_per_minute": 10}
    async with _app(sink, settings, **parts) as http:
        started = time.monotonic()
        if method == "post":
            response = await http.post("/v1/articles", json=ITEM)
        else:
            response = await http.get("/v1/articles/01ANY")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert elapsed < 2
    assert json.loads(response.content)["type"].endswith("/unavailable")
