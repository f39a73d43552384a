"""Who may call intake, and how often: optional API keys and a per-caller rate limit (GCRA).

Routes opt in with ``Depends(require_access)``; the check itself lives on ``app.state.access``
(built in ``create_app``), so a router included from another module needs no wiring of its own::

    router = APIRouter(dependencies=[Depends(require_access)])

Keys are compared in constant time and never logged: a caller is known by ``Principal.id``,
a digest of its key. The rate limit runs in Redis (one Lua script, Redis's clock), so every
intake replica draws on the same allowance.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from fastapi import Request
from redis.exceptions import RedisError

from services.intake.problems import Problem

log = structlog.stdlib.get_logger("newswire.intake")

RATE_KEY_PREFIX = "newswire:rate:"
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Principal:
    """A caller: ``key:<digest>`` for an API key, ``addr:<ip>`` or ``anonymous`` without keys."""

    id: str


ANONYMOUS = Principal("anonymous")


def key_id(key: str) -> str:
    """A stable name for a key that does not reveal it (logs, rate limit, idempotency scope)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


class RateLimiter(Protocol):
    async def acquire(self, subject: str) -> float:
        """Take one request from ``subject``'s allowance: 0 if allowed, else seconds to wait."""
        ...


def _gcra_step(tat: float, now: float, interval: float, tolerance: float) -> tuple[float, float]:
    """GCRA: (new theoretical arrival time, seconds to wait; 0 means allowed)."""
    tat = max(tat, now)
    allowed_at = tat - tolerance
    if now < allowed_at:
        return tat, allowed_at - now
    return tat + interval, 0.0


class InMemoryRateLimiter:
    """The Redis limiter's arithmetic in a dict (tests, one process)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 60.0 / per_minute
        self._tolerance = self._interval * (per_minute - 1)  # a burst of up to per_minute requests
        self._clock = clock
        self._tats: dict[str, float] = {}

    async def acquire(self, subject: str) -> float:
        now = self._clock()
        tat, wait = _gcra_step(self._tats.get(subject, now), now, self._interval, self._tolerance)
        self._tats[subject] = tat
        return wait


# KEYS[1] the caller's theoretical arrival time (ms); ARGV: interval ms, tolerance ms.
# Returns the milliseconds to wait (0: allowed). Same arithmetic as _gcra_step.
_GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - tonumber(ARGV[2])
if now < allowed_at then
  return math.ceil(allowed_at - now)
end
tat = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
return 0
"""


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, per_minute: int) -> None:
        self._interval_ms = 60_000 / per_minute
        self._tolerance_ms = self._interval_ms * (per_minute - 1)
        self._script = client.register_script(_GCRA_SCRIPT)

    async def acquire(self, subject: str) -> float:
        args = [repr(self._interval_ms), repr(self._tolerance_ms)]
        waited_ms = await self._script(keys=[f"{RATE_KEY_PREFIX}{subject}"], args=args)
        return int(waited_ms) / 1000


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get(API_KEY_HEADER) or None


class Access:
    """The check behind ``require_access``: authenticate (when keys are set), then rate-limit."""

    def __init__(
        self, keys: Sequence[str], limiter: RateLimiter | None = None, timeout_s: float = 2.0
    ) -> None:
        self._keys = [key.encode() for key in keys]
        self._limiter = limiter
        self._timeout_s = timeout_s

    @property
    def keys_required(self) -> bool:
        return bool(self._keys)

    def authenticate(self, presented: str | None) -> Principal | None:
        """The caller a key belongs to, or None. Every configured key is compared, in constant time."""
        if not self._keys:
            return ANONYMOUS
        if presented is None:
            return None
        given = presented.encode("utf-8", "surrogateescape")
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        return Principal(key_id(presented)) if matched else None

    async def check(self, request: Request) -> Principal:
        principal = self.authenticate(presented_key(request))
        if principal is None:
            log.info("access.denied", reason="unauthorized", path=request.url.path)
            raise Problem(
                401,
                "unauthorized",
                "Unauthorized",
                "A valid API key is required: `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                headers={"WWW-Authenticate": 'Bearer realm="newswire"'},
            )
        if self._limiter is not None:
            subject = principal.id
            if not self.keys_required and request.client is not None:
                subject = f"addr:{request.client.host}"
            await self._rate_limit(subject)
        request.state.principal = principal
        return principal

    async def _rate_limit(self, subject: str) -> None:
        assert self._limiter is not None
        try:
            async with asyncio.timeout(self._timeout_s):
                wait = await self._limiter.acquire(subject)
        except (RedisError, OSError, TimeoutError) as error:
            raise unavailable() from error
        if wait > 0:
            log.info("access.denied", reason="rate-limited", caller=subject, retry_after_s=round(wait, 1))
            raise Problem(
                429,
                "rate-limited",
                "Too many requests",
                "This caller's request rate limit is used up; retry after the given seconds.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def unavailable() -> Problem:
    return Problem(
        503,
        "unavailable",
        "Service unavailable",
        "The article store is unreachable; retry later.",
        headers={"Retry-After": "5"},
    )


async def require_access(request: Request) -> Principal:
    """FastAPI dependency: 401/429/503 problems, else the caller (also on ``request.state``)."""
    access: Access | None = getattr(request.app.state, "access", None)
    if access is None:
        return ANONYMOUS
    return await access.check(request)
