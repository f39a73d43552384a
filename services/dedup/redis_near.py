"""The near-duplicate index and the per-outlet sentence counts in Redis, shared by all replicas.

One Lua script per call makes check-and-insert atomic: Redis runs scripts one at a time, so two
replicas that see two copies of one story at the same moment are serialised; the second sees the
first's entry and is told it is a duplicate. Scripts run on Redis 6.2 and 7.x.

Layout (all keys carry the hash tag of ``prefix``, so they live in one cluster slot):

* ``{p}seq``: counter giving every indexed article a compact integer id (``seq``), which only
  grows with time; ``{p}live``: the first record block still alive.
* ``{p}r:<seq // 1024>``: hash ``seq -> record`` (insertion time, shingle count, the 128-byte
  sketch, the article id). The key expires one window after its last insert; a record older
  than the window is ignored even while its block lives on.
* ``{p}x:<anchor % shards>``: hash ``anchor -> packed seqs`` (4 bytes each, at most
  ``max_bucket``); ``{p}h:<shard>``: exact content hash (16 bytes) -> seq; ``{p}i:<shard>``:
  article id -> seq. Many small hashes stay in Redis's compact listpack/ziplist encoding.
  Because seqs grow with time, a seq below the first live block is dead without looking at its
  record: dead seqs are skipped on read, dropped when a bucket is rewritten, and every insert
  sweeps one shard hash every 8th insert (dead fields deleted), so the whole index is swept
  every ``24 * shards`` inserts. Every key also carries a TTL of two windows that writes renew, so an
  index that stops receiving articles empties itself.
  (Redis 6.2 cannot expire single hash fields; this is what bounds memory instead.)
* ``{p}s:<generation>:<shard>``: per-outlet sentence counts (``RedisSentenceFrequency``).

A check reads a fixed number of hash fields (one per anchor, plus the id and the hash), judges at
most ``MAX_CANDIDATES`` records, and an insert writes a fixed number, so the cost per article does
not grow with the number of indexed articles.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from services.dedup.fingerprint import Fingerprint
from services.dedup.near import (
    DEFAULT_THRESHOLDS,
    DEFAULT_WINDOW_SECONDS,
    MAX_BUCKET,
    MAX_CANDIDATES,
    MIN_SOURCE_ARTICLES,
    Match,
    Thresholds,
)

DEFAULT_PREFIX = "newswire:dedup:{near}:"
DEFAULT_SHARDS = 32768

# ARGV: now, window, shards, max_bucket, max_candidates, min_jaccard, min_containment,
#       article_id, id_shard, content_hash, hash_shard, sketch, size, anchors...
_CHECK_AND_INSERT = """
local p = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local shards = tonumber(ARGV[3])
local max_bucket = tonumber(ARGV[4])
local max_candidates = tonumber(ARGV[5])
local min_jaccard = tonumber(ARGV[6])
local min_containment = tonumber(ARGV[7])
local article_id = ARGV[8]
local id_key = p .. 'i:' .. ARGV[9]
local content_hash = ARGV[10]
local hash_key = p .. 'h:' .. ARGV[11]
local sketch = ARGV[12]
local size = tonumber(ARGV[13])
local first_anchor = 14
local horizon = now - window

-- Seqs only grow with time, so everything below the first record block still alive is dead:
-- one number tells dead entries from live ones without touching their records.
local live = tonumber(redis.call('GET', p .. 'live') or '0')
local top_block = math.floor(tonumber(redis.call('GET', p .. 'seq') or '0') / 1024)
local moved = false
while live < top_block and redis.call('EXISTS', p .. 'r:' .. live) == 0 do
  live = live + 1
  moved = true
end
if moved then redis.call('SET', p .. 'live', live) end
local min_seq = live * 1024

local function record(seq)
  if seq < min_seq then return nil end
  local raw = redis.call('HGET', p .. 'r:' .. math.floor(seq / 1024), seq)
  if not raw then return nil end
  local at, n = struct.unpack('<I4I4', raw)
  if at <= horizon then return nil end
  return at, n, string.sub(raw, 9, 8 + #sketch), string.sub(raw, 9 + #sketch)
end

local function live_part(packed)
  local kept = {}
  for i = 1, #packed, 4 do
    local seq = struct.unpack('<I4', packed, i)
    if seq >= min_seq then kept[#kept + 1] = string.sub(packed, i, i + 3) end
  end
  return table.concat(kept)
end

-- Redelivery of an article already indexed: it is unique, as it was the first time.
local own = redis.call('HGET', id_key, article_id)
if own and record(tonumber(own)) then return {0} end

local same = redis.call('HGET', hash_key, content_hash)
if same then
  local at, n, other, other_id = record(tonumber(same))
  if at then return {1, other_id, 'exact', '1', '1'} end
end

local buckets = {}
if size > 0 then
  local seen = {}
  local candidates = {}
  for a = first_anchor, #ARGV do
    local packed = redis.call('HGET', p .. 'x:' .. (tonumber(ARGV[a]) % shards), ARGV[a])
    if packed then
      packed = live_part(packed)
      for i = 1, #packed, 4 do
        local seq = struct.unpack('<I4', packed, i)
        if not seen[seq] then
          seen[seq] = true
          candidates[#candidates + 1] = seq
        end
      end
    end
    buckets[a] = packed or ''
  end
  table.sort(candidates)
  local mine = {string.byte(sketch, 1, #sketch)}
  local slots = #sketch
  for c = 1, math.min(#candidates, max_candidates) do
    local at, n, other, other_id = record(candidates[c])
    if at and n > 0 then
      local theirs = {string.byte(other, 1, #other)}
      local agree = 0
      for i = 1, slots do
        if mine[i] == theirs[i] then agree = agree + 1 end
      end
      -- 8-bit slots agree by accident 1 time in 256: the same correction as estimate_jaccard.
      local jaccard = (agree / slots - 1 / 256) / (1 - 1 / 256)
      if jaccard < 0 then jaccard = 0 end
      local containment = jaccard / (1 + jaccard) * (size + n) / math.min(size, n)
      if containment > 1 then containment = 1 end
      if jaccard >= min_jaccard or containment >= min_containment then
        return {1, other_id, 'near', tostring(jaccard), tostring(containment)}
      end
    end
  end
end

local seq = redis.call('INCR', p .. 'seq')
local record_key = p .. 'r:' .. math.floor(seq / 1024)
redis.call('HSET', record_key, seq, struct.pack('<I4I4', now, size) .. sketch .. article_id)
redis.call('EXPIREAT', record_key, now + window + 1)
local packed_seq = struct.pack('<I4', seq)
local expiry = now + 2 * window
for a, packed in pairs(buckets) do
  if #packed < 4 * max_bucket then
    local key = p .. 'x:' .. (tonumber(ARGV[a]) % shards)
    redis.call('HSET', key, ARGV[a], packed .. packed_seq)
    redis.call('EXPIREAT', key, expiry)
  end
end
redis.call('HSET', hash_key, content_hash, seq)
redis.call('HSET', id_key, article_id, seq)

-- Every 8th insert sweeps one shard hash (anchors, hashes and ids in turn): its dead fields go.
-- The whole index is swept every 24 * shards inserts, at a small cost per insert.
local cursor = redis.call('INCR', p .. 'sweep')
local swept = hash_key
if cursor % 8 == 0 then
  cursor = (cursor / 8) % (3 * shards)
  local kind = ({'x:', 'h:', 'i:'})[math.floor(cursor / shards) + 1]
  swept = p .. kind .. (cursor % shards)
  local fields = redis.call('HGETALL', swept)
  for f = 1, #fields, 2 do
    local value = fields[f + 1]
    local dead
    if kind == 'x:' then dead = live_part(value) == '' else dead = tonumber(value) < min_seq end
    if dead then redis.call('HDEL', swept, fields[f]) end
  end
end
-- Every key carries a TTL of two windows, renewed by writes: an idle index vanishes by itself.
for _, key in ipairs({swept, hash_key, id_key, p .. 'seq', p .. 'sweep', p .. 'live'}) do
  redis.call('EXPIREAT', key, expiry)
end
return {0}
"""

# ARGV: now, window, shards, min_articles, then one 32-bit key per sentence (outlet and sentence
# hashed together). Counts live in two generations of one window each: this one and the last.
# Returns the keys seen in at least min_articles earlier articles.
_OBSERVE = """
local p = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local shards = tonumber(ARGV[3])
local min_articles = tonumber(ARGV[4])
local gen = math.floor(now / window)
local frequent = {}
local touched = {}
for a = 5, #ARGV do
  local field = ARGV[a]
  local shard = tonumber(field) % shards
  local key = p .. 's:' .. gen .. ':' .. shard
  local before = redis.call('HINCRBY', key, field, 1) - 1
  before = before + (tonumber(redis.call('HGET', p .. 's:' .. (gen - 1) .. ':' .. shard, field)) or 0)
  if before >= min_articles then frequent[#frequent + 1] = field end
  if not touched[key] then
    touched[key] = true
    redis.call('EXPIREAT', key, (gen + 2) * window + 1)
  end
end
return frequent
"""


@dataclass(frozen=True, slots=True)
class RedisLayout:
    """Where and how the index lives in Redis."""

    prefix: str = DEFAULT_PREFIX
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    shards: int = DEFAULT_SHARDS

    def shard(self, text: str) -> int:
        return zlib.crc32(text.encode("utf-8")) % self.shards


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


class RedisNearIndex:
    """``NearDuplicateIndex`` on Redis: atomic across replicas, windowed, bounded memory."""

    def __init__(
        self,
        client: aioredis.Redis,
        layout: RedisLayout | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        max_bucket: int = MAX_BUCKET,
        max_candidates: int = MAX_CANDIDATES,
    ) -> None:
        self.client = client
        self.layout = layout or RedisLayout()
        self.thresholds = thresholds
        self.max_bucket = max_bucket
        self.max_candidates = max_candidates
        self._script = client.register_script(_CHECK_AND_INSERT)

    def _args(self, article_id: str, fp: Fingerprint, now: float | None) -> list[str | bytes | int]:
        layout = self.layout
        return [
            _now(now),
            layout.window_seconds,
            layout.shards,
            self.max_bucket,
            self.max_candidates,
            repr(self.thresholds.min_jaccard),
            repr(self.thresholds.min_containment),
            article_id,
            layout.shard(article_id),
            bytes.fromhex(fp.content_hash),
            int(fp.content_hash[:8], 16) % layout.shards,
            fp.sketch,
            fp.size,
            *fp.anchors,
        ]

    async def check_and_insert(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        """See ``NearDuplicateIndex.check_and_insert``."""
        reply = await self._script(keys=[self.layout.prefix], args=self._args(article_id, fp, now))
        return _match(reply)

    async def check_and_insert_many(
        self, items: Sequence[tuple[str, Fingerprint]], *, now: float | None = None
    ) -> list[Match | None]:
        """``check_and_insert`` for a batch in one round trip, in order (each one atomic)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for article_id, fp in items:
                await self._script(
                    keys=[self.layout.prefix], args=self._args(article_id, fp, now), client=pipe
                )
            replies = await pipe.execute()
        return [_match(reply) for reply in replies]


def _match(reply: list[int | bytes]) -> Match | None:
    if not reply or reply[0] == 0:
        return None
    _, article_id, kind, jaccard, containment = reply
    return Match(
        _text(article_id),
        "exact" if kind == b"exact" else "near",
        float(_text(jaccard)),
        float(_text(containment)),
    )


def _text(value: int | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisSentenceFrequency:
    """``SentenceFrequency`` on Redis: per-outlet sentence counts in two one-window generations.

    A count therefore covers between one and two windows of an outlet's articles.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        layout: RedisLayout | None = None,
        min_articles: int = MIN_SOURCE_ARTICLES,
    ) -> None:
        self.client = client
        self.layout = layout or RedisLayout()
        self.min_articles = min_articles
        self._script = client.register_script(_OBSERVE)

    def _fields(self, source: str, keys: Collection[int]) -> dict[int, int]:
        # 32 bits of (outlet, sentence) per field keep the hashes compact; a collision only makes
        # one sentence of one outlet look repeated a little early.
        salt = zlib.crc32(source.encode("utf-8"))
        return {(key ^ salt ^ (key >> 32)) & 0xFFFFFFFF: key for key in keys}

    def _args(self, fields: Collection[int], now: float | None) -> list[int]:
        layout = self.layout
        return [_now(now), layout.window_seconds, layout.shards, self.min_articles, *fields]

    async def observe(
        self, source: str, keys: Collection[int], *, now: float | None = None
    ) -> frozenset[int]:
        """See ``SentenceFrequency.observe``."""
        if not keys:
            return frozenset()
        fields = self._fields(source, keys)
        reply = await self._script(keys=[self.layout.prefix], args=self._args(fields, now))
        return frozenset(fields[int(field)] for field in reply)

    async def observe_many(
        self, items: Sequence[tuple[str, Collection[int]]], *, now: float | None = None
    ) -> list[frozenset[int]]:
        """``observe`` for a batch of (outlet, keys) in one round trip, in order."""
        batch = [self._fields(source, keys) for source, keys in items]
        async with self.client.pipeline(transaction=False) as pipe:
            for fields in batch:
                await self._script(keys=[self.layout.prefix], args=self._args(fields, now), client=pipe)
            replies = await pipe.execute()
        return [
            frozenset(fields[int(f)] for f in reply) for fields, reply in zip(batch, replies, strict=True)
        ]
