"""Idempotent submission: one article id per guid (or Idempotency-Key), a new version when it changes.

A record per key holds the article id, its version, the fingerprint of the content last
accepted under that version and a state: ``pending`` while a submission publishes, ``done``
after. Intake *claims* the key, publishes, then *completes* it (reserve, publish, confirm):

- a crash after the claim and before the publish leaves a ``pending`` record whose lease runs
  out; the next submission of the key takes it over and publishes under the same id and
  version, so the article is not lost;
- a crash after the publish and before the completion makes that retry publish the same
  id and version a second time: at-least-once, like every other hop, and only on a crash;
- while a lease runs, a concurrent submission of the same key is told so (``in_progress``)
  instead of publishing a second entry.

Publishing first and recording afterwards would instead let two concurrent submissions both
publish; recording as ``done`` before publishing would lose the article on a crash between.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import redis.asyncio as aioredis

IDEMPOTENCY_KEY_PREFIX = "newswire:idem:"

# new: first submission; version: changed content under a guid (same id, version + 1);
# duplicate: the same content again; in_progress: another submission of the key is publishing;
# mismatch: an Idempotency-Key reused for other content (keys do not make versions).
ClaimOutcome = Literal["new", "version", "duplicate", "in_progress", "mismatch"]


@dataclass(frozen=True)
class IdempotencyKey:
    """What makes two submissions the same: a guid within its source, or a client's key."""

    scope: str
    value: str
    versioned: bool

    @classmethod
    def for_guid(cls, guid: str, source: str | None) -> IdempotencyKey:
        return cls(f"guid:{source or ''}", guid, versioned=True)

    @classmethod
    def for_header(cls, value: str, principal: str) -> IdempotencyKey:
        """An ``Idempotency-Key`` header, scoped by who sent it so clients cannot collide."""
        return cls(f"key:{principal}", value, versioned=False)

    @property
    def redis_key(self) -> str:
        digest = hashlib.sha256(f"{self.scope}\0{self.value}".encode(errors="surrogatepass")).hexdigest()
        return f"{IDEMPOTENCY_KEY_PREFIX}{digest}"


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    article_id: str
    version: int

    @property
    def publishes(self) -> bool:
        """Whether the claimer must publish (and then complete) the article."""
        return self.outcome in ("new", "version")


class IdempotencyStore(Protocol):
    async def claim(self, key: IdempotencyKey, article_id: str, fingerprint: str) -> Claim:
        """Reserve ``key`` for a submission whose fresh id is ``article_id``; say what to do."""
        ...

    async def complete(self, key: IdempotencyKey, claim: Claim) -> None:
        """The claimed version is published: later submissions of it are duplicates."""
        ...

    async def abandon(self, key: IdempotencyKey, claim: Claim) -> None:
        """The claimed version was not published: let the next submission take over at once."""
        ...

    async def fingerprint(self, key: IdempotencyKey) -> str | None:
        """The fingerprint last completed under ``key`` (lets a poller skip unchanged entries)."""
        ...


@dataclass
class _Record:
    article_id: str
    version: int
    fingerprint: str
    state: Literal["pending", "done"]
    lease_until: float
    expires_at: float


class InMemoryIdempotencyStore:
    """The Redis store's rules in a dict, with an injectable clock (tests, one process)."""

    def __init__(
        self, ttl_seconds: float, lease_seconds: float = 10.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._ttl = ttl_seconds
        self._lease = lease_seconds
        self._clock = clock
        self.records: dict[str, _Record] = {}

    def _live(self, key: IdempotencyKey) -> _Record | None:
        record = self.records.get(key.redis_key)
        if record is not None and record.expires_at <= self._clock():
            del self.records[key.redis_key]
            return None
        return record

    async def claim(self, key: IdempotencyKey, article_id: str, fingerprint: str) -> Claim:
        now = self._clock()
        record = self._live(key)
        if record is None:
            self.records[key.redis_key] = _Record(
                article_id, 1, fingerprint, "pending", now + self._lease, now + self._ttl
            )
            return Claim("new", article_id, 1)
        if record.state == "pending":
            if record.lease_until > now:
                return Claim("in_progress", record.article_id, record.version)
            # The claimer died or gave up: take its version over with this content.
            record.fingerprint, record.lease_until = fingerprint, now + self._lease
            return Claim("version" if record.version > 1 else "new", record.article_id, record.version)
        if record.fingerprint == fingerprint:
            return Claim("duplicate", record.article_id, record.version)
        if not key.versioned:
            return Claim("mismatch", record.article_id, record.version)
        record.version += 1
        record.fingerprint, record.state, record.lease_until = fingerprint, "pending", now + self._lease
        record.expires_at = now + self._ttl
        return Claim("version", record.article_id, record.version)

    async def complete(self, key: IdempotencyKey, claim: Claim) -> None:
        record = self._live(key)
        if record is not None and (record.article_id, record.version) == (claim.article_id, claim.version):
            record.state = "done"

    async def abandon(self, key: IdempotencyKey, claim: Claim) -> None:
        record = self._live(key)
        if record is not None and record.state == "pending" and record.version == claim.version:
            record.lease_until = 0.0

    async def fingerprint(self, key: IdempotencyKey) -> str | None:
        record = self._live(key)
        return record.fingerprint if record is not None and record.state == "done" else None


# The rules above as Lua, shared by the claim script here and intake's one-round-trip accept
# script (``services.intake.redis_accept``). ``decide`` reads the record of ``key`` and returns the
# outcome, the id and version to publish under (or found), and the change the record needs:
# ``create`` (none yet), ``bump`` (a new version), ``takeover`` (a pending version whose lease ran
# out), or nil (nothing to publish). Times are Redis's own clock (TIME), so replicas agree on leases.
DECIDE_LUA = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function decide(key, fresh_id, fp, now, versioned)
  local rec = redis.call('HMGET', key, 'id', 'version', 'fp', 'state', 'lease')
  if not rec[1] then
    return 'new', fresh_id, 1, 'create'
  end
  local version = tonumber(rec[2])
  if rec[4] == 'pending' then
    if tonumber(rec[5]) > now then
      return 'in_progress', rec[1], version, nil
    end
    if version > 1 then return 'version', rec[1], version, 'takeover' end
    return 'new', rec[1], version, 'takeover'
  end
  if rec[3] == fp then
    return 'duplicate', rec[1], version, nil
  end
  if versioned ~= '1' then
    return 'mismatch', rec[1], version, nil
  end
  return 'version', rec[1], version + 1, 'bump'
end
"""

# KEYS[1] the record; ARGV: fresh id, fingerprint, lease ms, ttl ms, versioned (1/0).
# Returns {outcome, id, version}; a publishing outcome leaves the record pending under a lease.
_CLAIM_SCRIPT = (
    DECIDE_LUA
    + """
local now = now_ms()
local lease = now + tonumber(ARGV[3])
local outcome, id, version, change = decide(KEYS[1], ARGV[1], ARGV[2], now, ARGV[5])
if change == 'create' or change == 'bump' then
  redis.call('HSET', KEYS[1], 'id', id, 'version', version, 'fp', ARGV[2], 'state', 'pending', 'lease', lease)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
elseif change == 'takeover' then
  redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'lease', lease)
end
return {outcome, id, version}
"""
)

# KEYS[1] the record; ARGV: id, version, state to set ('done', or 'abandon' to end the lease).
_SETTLE_SCRIPT = """
local rec = redis.call('HMGET', KEYS[1], 'id', 'version', 'state')
if rec[1] ~= ARGV[1] or rec[2] ~= ARGV[2] or rec[3] ~= 'pending' then
  return 0
end
if ARGV[3] == 'done' then
  redis.call('HSET', KEYS[1], 'state', 'done')
else
  redis.call('HSET', KEYS[1], 'lease', 0)
end
return 1
"""


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisIdempotencyStore:
    """Records as Redis hashes ``newswire:idem:<sha256>`` expiring after ``ttl_seconds``."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: float, lease_seconds: float = 10.0) -> None:
        self._client = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._lease_ms = int(lease_seconds * 1000)
        self._claim = client.register_script(_CLAIM_SCRIPT)
        self._settle = client.register_script(_SETTLE_SCRIPT)

    async def claim(self, key: IdempotencyKey, article_id: str, fingerprint: str) -> Claim:
        args: list[str | int] = [
            article_id,
            fingerprint,
            self._lease_ms,
            self._ttl_ms,
            "1" if key.versioned else "0",
        ]
        outcome, found_id, version = await self._claim(keys=[key.redis_key], args=args)
        return Claim(_text(outcome), _text(found_id), int(version))  # type: ignore[arg-type]  # the script returns only ClaimOutcome values

    async def complete(self, key: IdempotencyKey, claim: Claim) -> None:
        await self._settle(keys=[key.redis_key], args=[claim.article_id, claim.version, "done"])

    async def abandon(self, key: IdempotencyKey, claim: Claim) -> None:
        await self._settle(keys=[key.redis_key], args=[claim.article_id, claim.version, "abandon"])

    async def fingerprint(self, key: IdempotencyKey) -> str | None:
        fingerprint, state = await self._client.hmget(key.redis_key, ["fp", "state"])
        if fingerprint is None or state is None or _text(state) != "done":
            return None
        return _text(fingerprint)
