"""The near-duplicate index and the per-outlet sentence counts in Redis, shared by all replicas.

One Lua script per call makes check-and-insert atomic: Redis runs scripts one at a time, so two
replicas that see two copies of one story at the same moment are serialised; the second sees the
first's entry and is told it is a duplicate. Scripts run on Redis 6.2 and 7.x. The Lua comes in
parts (``_COMMON``, ``_INDEX``, ``_SENTENCES``) that the index's script, the sentence counts' script
and the dedup stage's single script (``services.dedup.redis_dedup``) put together; configuration
(window, shards, thresholds) is bound into the script text, so a call sends only the article.

Layout (all keys carry the hash tag of ``prefix``, so they live in one cluster slot). A shard
``<shard>`` in a key name is the shard number as 2 little-endian bytes: the caller sends it ready,
so a script joins strings instead of formatting numbers (which costs Redis's Lua more than the
command that uses the key).

* ``{p}meta``: hash with ``seq`` (a counter giving every indexed article a compact integer id,
  which only grows with time) and ``live`` (the first record block still alive).
* ``{p}r:<seq // 1024>``: hash ``seq -> record`` (insertion time, shingle count, outlet tag, the
  first 8 bytes of the content hash, the 128-byte sketch, the article id). The key expires one
  window after its last insert; a record older than the window is ignored even while its block
  lives on.
* ``{p}x:<anchor % shards>``: hash ``anchor (4 bytes) -> packed seqs`` (4 bytes each, at most
  ``max_bucket``). Many small hashes stay in Redis's compact listpack/ziplist encoding.
* ``{p}h:<shard>``: exact content hash (16 bytes) -> seq, for texts without a single shingle only
  (a heading, a one-liner): any other copy shares all its anchors, so it is a candidate, and its
  record's hash head tells an exact copy from a near one. Nor is there a map of article ids: a
  redelivered article is a candidate of itself, and its record names it.
* Because seqs grow with time, a seq below the first live block is dead without looking at its
  record: dead seqs are skipped on read, dropped when a bucket is rewritten, and every 8th insert
  (by seq) sweeps one shard hash (dead fields deleted), so the whole index is swept every
  ``16 * shards`` inserts. (Redis 6.2 cannot expire single hash fields; this is what bounds memory
  instead.) A bucket's seqs are in insertion order, so its live ones are a tail.
* ``{p}c:<2 bytes>``: per-outlet sentence counts (``RedisSentenceFrequency``; 65,536 hashes,
  whatever ``shards`` is). A field counts the last two generations (``now // window``); once both
  are older it counts as nothing, like a missing field, but a busy hash never expires whole, so
  a sweep paced by the clock deletes such fields: 65,536 hash sweeps fall due per window (field
  ``swept`` of ``{p}meta`` counts those done) and each script that counts (the dedup stage's: each
  judged article) does up to 4 of those due. Bound: a stale field is deleted within one window of
  going stale, or within 16,384 scripts when fewer run in a window, so no field outlives its last
  count by more than three windows (2 live, 1 stale); a hash nobody writes expires whole by then.
  Memory: the fields counted in the last three windows at most, about 1.75 windows' worth on
  average (half of this generation, the last one, half of the one before not swept yet); at ~20
  sentences per counted article, ~35 fields per article counted in a window. Work: each hash is
  read once per window, so per article the fields of those ~1.75 windows over one window's
  articles, whatever the size of the index (measured with ``evaluation.dedup_redis_cost``: a
  hash swept costs ~15 µs of script time at 10,000 articles a window, where a script sweeps its
  cap of 4, and ~360 µs at 1,000,000, where one is due every ~15 articles: ~25 µs an article).
* ``{p}held:<round>`` (the dedup stage's script only, ``services.dedup.redis_dedup``): the
  content hashes and anchors of the articles a round trip held back, for 60 s.
* Every hash carries a TTL of at least two windows past its last write, so an index that stops
  receiving articles empties itself. Its field ``_g`` says in which generation (``now // window``)
  the TTL was last renewed; it is read with the fields a script reads anyway, so a key's TTL is
  renewed once per generation rather than on every write (in the same HSET as the field written).

A check reads a fixed number of hash fields (one per anchor), judges at most ``MAX_CANDIDATES``
records (those sharing the most anchors, then the earliest), and an insert writes a fixed number,
so the commands per article do not grow with the number of indexed articles. The fields per hash
do (``16 * indexed / shards`` anchors, ~35 times the articles of a window over 65,536 count
hashes), and with them the time of each command in a compact hash (a linear scan); past Redis's
hash-max-listpack-entries a hash leaves the compact encoding: constant-time lookups, several times
the memory per field. newswire runs Redis with 128 (``shared.embedded_redis.COMPACT_HASH_ENTRIES``;
Redis's own default is 512), which keeps the cost per article flat from 10,000 to 1,000,000
indexed (docs/operations.md, "Redis configuration").
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.dedup.fingerprint import MIN_AGREEING_SLOTS, Fingerprint
from services.dedup.near import (
    DEFAULT_THRESHOLDS,
    DEFAULT_WINDOW_SECONDS,
    EXACT_HEAD_BYTES,
    MAX_BUCKET,
    MAX_CANDIDATES,
    MIN_SOURCE_ARTICLES,
    Match,
    Thresholds,
)
from shared.scripts import Call, ScriptBatcher

DEFAULT_PREFIX = "newswire:dedup:{near}:4:"
DEFAULT_SHARDS = 32768
MAX_SHARDS = 65536  # a shard is named by 2 bytes
RECORD_BLOCK = 1024
COUNT_HASHES = 65536  # the sentence counts' hashes: the first 2 bytes of a field's 4
SWEEP_BATCH = 4  # at most this many count hashes swept by one script

# Lua shared by the scripts below. A script sets these locals first: p (key prefix), now, window,
# shards. Every hash the index writes holds a field ``_g``: the generation (``now // window``)
# in which the key's TTL was last renewed, read together with the fields a script needs anyway, so
# that a key's TTL is renewed once per generation instead of on every write. ``write`` sets one
# field of such a hash (``seen``: the ``_g`` read from it) and renews it in the same HSET when due;
# ``renew`` renews a hash written otherwise.
#
# Numbers go to Redis as text made by ``int`` (or once per script, ``gen_s``): Redis's Lua turns a
# number argument of redis.call into text with sprintf("%.14g"), the floating-point path, which
# cost more than some of the commands it fed (perf on redis-server: ~8% of its time; the dedup
# script's time fell ~11% without it, docs/scaling.md).
_COMMON = """
local function int(n) return string.format('%d', n) end
local gen = math.floor(now / window)
local gen_s = int(gen)
local key_expiry = int((gen + 3) * window + 1)  -- at least two windows after any write of this generation
local renewed = {}
local function due(key, seen)
  if renewed[key] or seen == gen_s then return false end
  renewed[key] = true
  return true
end
local function renew(key, seen)
  if not due(key, seen) then return end
  redis.call('HSET', key, '_g', gen_s)
  redis.call('EXPIREAT', key, key_expiry)
end
local function write(key, seen, field, value)
  if not due(key, seen) then
    redis.call('HSET', key, field, value)
    return
  end
  redis.call('HSET', key, field, value, '_g', gen_s)
  redis.call('EXPIREAT', key, key_expiry)
end
"""

# The index. Sets: meta_key, meta (seq, live, _g, swept: see _SENTENCES), min_seq; defines
# record(), live_part(), find(), insert(). Needs the locals of _COMMON and: max_bucket,
# max_candidates, min_jaccard, min_containment, article_id, content_hash, hash_key, sketch, size,
# outlet, anchors (a list of 4-byte strings: the anchors as little-endian uint32, which are also
# their field names) and anchor_keys (the bucket hash of each anchor).
_INDEX = """
local horizon = now - window
local slots = #sketch
local hash_head = string.sub(content_hash, 1, HASH_HEAD)
local meta_key = p .. 'meta'
local meta = redis.call('HMGET', meta_key, 'seq', 'live', '_g', 'swept')
-- Seqs only grow with time, so everything below the first record block still alive is dead:
-- one number tells dead entries from live ones without touching their records.
local live = tonumber(meta[2] or '0')
local top_block = math.floor(tonumber(meta[1] or '0') / BLOCK)
local moved = false
while live < top_block and redis.call('EXISTS', p .. 'r:' .. live) == 0 do
  live = live + 1
  moved = true
end
if moved then redis.call('HSET', meta_key, 'live', int(live)) end
local min_seq = live * BLOCK

-- A record: insertion time, shingle count, outlet tag (0: none), the content hash's head, sketch,
-- article id.
local function record(seq)
  if seq < min_seq then return nil end
  local raw = redis.call('HGET', p .. 'r:' .. int(math.floor(seq / BLOCK)), int(seq))
  if not raw then return nil end
  local at, n, tag = struct.unpack('<I4I4I4', raw)
  if at <= horizon then return nil end
  local sketch_at = 13 + HASH_HEAD
  return at, n, tag, string.sub(raw, 13, sketch_at - 1), string.sub(raw, sketch_at, sketch_at + slots - 1),
    string.sub(raw, sketch_at + slots)
end

-- A bucket's seqs are in insertion order, so the live ones are a tail.
local function live_part(packed)
  for i = 1, #packed, 4 do
    if struct.unpack('<I4', packed, i) >= min_seq then
      if i == 1 then return packed end
      return string.sub(packed, i)
    end
  end
  return ''
end

-- Only texts without a shingle are in the exact hashes: any other copy shares all its anchors.
local same = size <= 0 and redis.call('HMGET', hash_key, content_hash, '_g') or {}
local buckets = {}  -- anchor -> {key, live packed seqs, _g}

-- Judges one candidate record: 'self' (this very article id: a redelivery), a match
-- {id, kind, jaccard, containment, outlet tag}, or nil.
local mine
local function judge(seq)
  local at, n, tag, head, other, other_id = record(seq)
  if not at then return nil end
  if other_id == article_id then return 'self' end
  if head == hash_head then return {other_id, 'exact', '1', '1', tag} end
  if n <= 0 or size <= 0 then return nil end
  mine = mine or {string.byte(sketch, 1, slots)}
  local theirs = {string.byte(other, 1, slots)}
  local agree = 0
  for i = 1, slots do
    if mine[i] == theirs[i] then agree = agree + 1 end
  end
  -- 8-bit slots agree by accident 1 time in 256: the same correction and the same floor of
  -- agreeing slots as estimate_jaccard.
  local jaccard = (agree / slots - 1 / 256) / (1 - 1 / 256)
  if jaccard < 0 or agree < min_agreeing_slots then jaccard = 0 end
  local containment = jaccard / (1 + jaccard) * (size + n) / math.min(size, n)
  if containment > 1 then containment = 1 end
  if jaccard >= min_jaccard or containment >= min_containment then
    return {other_id, 'near', tostring(jaccard), tostring(containment), tag}
  end
  return nil
end

-- The earliest live indexed article this one copies (see judge); nil when none.
local function find()
  if size <= 0 then
    return same[1] and judge(tonumber(same[1])) or nil
  end
  local hits = {}
  local candidates = {}
  for a, anchor in ipairs(anchors) do
    local key = anchor_keys[a]
    local found = redis.call('HMGET', key, anchor, '_g')
    local packed = found[1] and live_part(found[1]) or ''
    for i = 1, #packed, 4 do
      local seq = struct.unpack('<I4', packed, i)
      if hits[seq] then
        hits[seq] = hits[seq] + 1
      else
        hits[seq] = 1
        candidates[#candidates + 1] = seq
      end
    end
    buckets[anchor] = {key, packed, found[2]}
  end
  -- Past max_candidates, those sharing the most anchors (a copy shares most of them), then the
  -- earliest ones.
  if #candidates > max_candidates then
    table.sort(candidates, function(x, y)
      if hits[x] ~= hits[y] then return hits[x] > hits[y] end
      return x < y
    end)
    for c = #candidates, max_candidates + 1, -1 do candidates[c] = nil end
  end
  table.sort(candidates)
  for _, seq in ipairs(candidates) do
    local verdict = judge(seq)
    if verdict then return verdict end
  end
  return nil
end

local function insert()
  local seq = redis.call('HINCRBY', meta_key, 'seq', '1')
  local record_key = p .. 'r:' .. int(math.floor(seq / BLOCK))
  local head = struct.pack('<I4I4I4', now, size, outlet) .. hash_head
  redis.call('HSET', record_key, int(seq), head .. sketch .. article_id)
  redis.call('EXPIREAT', record_key, int(now + window + 1))
  local packed_seq = struct.pack('<I4', seq)
  for anchor, bucket in pairs(buckets) do
    if #bucket[2] < 4 * max_bucket then write(bucket[1], bucket[3], anchor, bucket[2] .. packed_seq) end
  end
  if size <= 0 then write(hash_key, same[2], content_hash, int(seq)) end
  -- Every 8th insert sweeps one shard hash (anchors, then exact hashes, in turn): its dead fields
  -- go. The whole index is swept every 16 * shards inserts, at a small cost per insert.
  if seq % 8 == 0 then
    local cursor = (seq / 8) % (2 * shards)
    local kind = cursor < shards and 'x:' or 'h:'
    local swept = p .. kind .. struct.pack('<H', cursor % shards)
    local fields = redis.call('HGETALL', swept)
    for f = 1, #fields, 2 do
      local field, value = fields[f], fields[f + 1]
      if field ~= '_g' then
        local dead
        if kind == 'x:' then dead = live_part(value) == '' else dead = tonumber(value) < min_seq end
        if dead then redis.call('HDEL', swept, field) end
      end
    end
  end
  renew(meta_key, meta[3])
end
""".replace("BLOCK", str(RECORD_BLOCK)).replace("HASH_HEAD", str(EXACT_HEAD_BYTES))

# Per-outlet sentence counts. The key f of an (outlet, sentence) is 4 bytes (a little-endian uint32):
# its first two name the hash '{p}c:<2 bytes>', its last two the field there. The value is
# at * 65536 + last * 256 + this: how many of the outlet's articles carried the sentence in
# generation ``at`` (this) and in the one before (last), each up to min_articles. A count covers this
# generation and the last, so between one and two windows of an outlet's unique articles. One field
# per sentence and key names cut from f keep a sentence at one command to read it and one to count
# it. Defines fields_of(blob), frequent(fields) (reads, and remembers what it read), count(fields)
# and sweep_counts(meta_key, swept, seen). Needs the locals of _COMMON and min_articles (at most 255).
#
# A field both of whose counts are older than the generations read (at < gen - 1) counts as 0,
# exactly like a missing field, but busy hashes never expire whole, so such fields are deleted by a
# sweep paced by the clock: COUNT_HASHES hash sweeps fall due per window (field 'swept' of {p}meta
# says how many were done, counting from the epoch), and a script sweeps at most SWEEP_BATCH of those
# due; so every hash is swept about once per window, and the work per article is the fields of one
# window's hashes divided by the articles of a window, whatever the size of the index.
_SENTENCES = """
local counts_prefix = p .. 'c:'
local read = {}
local function fields_of(blob)
  local fields = {}
  for i = 1, #blob, 4 do fields[#fields + 1] = string.sub(blob, i, i + 3) end
  return fields
end

local function frequent(fields)
  local found = {}
  for _, f in ipairs(fields) do
    local key, field = counts_prefix .. string.sub(f, 1, 2), string.sub(f, 3, 4)
    local values = redis.call('HMGET', key, field, '_g')
    local v = tonumber(values[1]) or 0
    local at, this, last = math.floor(v / 65536), v % 256, math.floor(v / 256) % 256
    -- this and last as of this generation
    if at == gen - 1 then
      this, last = 0, this
    elseif at ~= gen then
      this, last = 0, 0
    end
    read[f] = {key, field, this, last, values[2]}
    if this + last >= min_articles then found[#found + 1] = f end
  end
  return found
end

local function count(fields)
  for _, f in ipairs(fields) do
    local known = read[f]
    -- Once this generation's count reaches min_articles, more tells nothing, now or next window.
    if known[3] < min_articles then
      write(known[1], known[5], known[2], int(gen * 65536 + known[4] * 256 + known[3] + 1))
    end
  end
end

-- Deletes the stale fields of the hashes whose sweep is due; swept and seen: fields 'swept' and
-- '_g' of meta_key as read by the caller.
local function sweep_counts(meta_key, swept, seen)
  local due = math.floor(now / window * COUNT_HASHES)
  swept = tonumber(swept)
  if swept and swept >= due then return end
  -- The first sweep of an index starts now. More than a round behind (a pause, or fewer than
  -- COUNT_HASHES / SWEEP_BATCH scripts a window), whole rounds are skipped but not the hashes next
  -- in turn, so every hash is still swept within COUNT_HASHES / SWEEP_BATCH scripts.
  if not swept then
    swept = due
  elseif swept < due - COUNT_HASHES then
    swept = due - COUNT_HASHES + (swept - due) % COUNT_HASHES
  end
  local stale_before = (gen - 1) * 65536
  for _ = 1, math.min(due - swept, SWEEP_BATCH) do
    local key = counts_prefix .. struct.pack('<H', swept % COUNT_HASHES)
    swept = swept + 1
    local fields = redis.call('HGETALL', key)
    local stale, kept = {}, 0
    for f = 1, #fields, 2 do
      if fields[f] ~= '_g' then
        if tonumber(fields[f + 1]) < stale_before then stale[#stale + 1] = fields[f] else kept = kept + 1 end
      end
    end
    if kept == 0 and #stale > 0 then
      redis.call('DEL', key)
    else
      for first = 1, #stale, 1000 do  -- bounded arguments per command
        redis.call('HDEL', key, unpack(stale, first, math.min(first + 999, #stale)))
      end
    end
  end
  redis.call('HSET', meta_key, 'swept', int(swept))
  renew(meta_key, seen)
end
""".replace("COUNT_HASHES", str(COUNT_HASHES)).replace("SWEEP_BATCH", str(SWEEP_BATCH))
MAX_MIN_ARTICLES = 255  # a count has 8 bits


def valid_min_articles(min_articles: int) -> int:
    """``min_articles`` if the sentence counts can hold it (8 bits), else ValueError."""
    if not 1 <= min_articles <= MAX_MIN_ARTICLES:
        raise ValueError(f"min_articles must be 1..{MAX_MIN_ARTICLES}")
    return min_articles


def lua_locals(**values: int | float | str) -> str:
    """Lua that binds each configuration value to a local (scripts are registered per layout)."""
    lines = []
    for name, value in values.items():
        if isinstance(value, str):
            if "]==]" in value:
                raise ValueError(f"cannot quote {value!r} for Lua")
            lines.append(f"local {name} = [==[{value}]==]")
        else:
            lines.append(f"local {name} = {value!r}")
    return "\n".join(lines) + "\n"


def pack_uint32(values: Iterable[int]) -> bytes:
    """Values as little-endian uint32s: one script argument instead of one per value."""
    values = list(values)
    return struct.pack(f"<{len(values)}I", *values)


def unpack_uint32(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(blob) // 4}I", blob)


# ARGV: now, article_id, content_hash, hash_shard, sketch, size, outlet tag, anchors (per anchor 6
# bytes: its shard, then the anchor as a little-endian uint32). Shards are 2 bytes.
_INDEX_ARGS = """
local p = KEYS[1]
local now = tonumber(ARGV[1])
local article_id = ARGV[2]
local content_hash = ARGV[3]
local hash_key = p .. 'h:' .. ARGV[4]
local sketch = ARGV[5]
local size = tonumber(ARGV[6])
local outlet = tonumber(ARGV[7])
local anchors, anchor_keys = {}, {}
local anchor_prefix = p .. 'x:'
for i = 1, #ARGV[8], 6 do
  anchor_keys[#anchor_keys + 1] = anchor_prefix .. string.sub(ARGV[8], i, i + 1)
  anchors[#anchors + 1] = string.sub(ARGV[8], i + 2, i + 5)
end
"""

_CHECK_AND_INSERT = (
    _INDEX_ARGS
    + _COMMON
    + _INDEX
    + """
local match = find()
if match == 'self' then return {0} end
if match then return {1, match[1], match[2], match[3], match[4]} end
insert()
return {0}
"""
)

# ARGV: now, counting ('1' or '0'), the (outlet, sentence) fields. Returns the fields counted in at
# least min_articles articles; then counts this article if asked to.
_SENTENCE_COUNTS = (
    """
local p = KEYS[1]
local now = tonumber(ARGV[1])
local counting = ARGV[2] == '1'
"""
    + _COMMON
    + _SENTENCES
    + """
local fields = fields_of(ARGV[3])
local found = frequent(fields)
if counting then
  count(fields)
  local meta_key = p .. 'meta'
  local meta = redis.call('HMGET', meta_key, 'swept', '_g')
  sweep_counts(meta_key, meta[1], meta[2])
end
return found
"""
)


@dataclass(frozen=True, slots=True)
class RedisLayout:
    """Where and how the index lives in Redis."""

    prefix: str = DEFAULT_PREFIX
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    shards: int = DEFAULT_SHARDS

    def __post_init__(self) -> None:
        if not 0 < self.shards <= MAX_SHARDS:
            raise ValueError(f"shards must be 1..{MAX_SHARDS} (a shard is named by 2 bytes)")


def shard_name(shard: int) -> bytes:
    """A shard number as it ends a key name: 2 little-endian bytes."""
    return struct.pack("<H", shard)


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


def outlet_tag(outlet: str | None) -> int:
    """A 32-bit tag of an outlet for index records, never 0 (0 stands for no outlet)."""
    return 0 if not outlet else zlib.crc32(outlet.encode("utf-8")) % 0xFFFFFFFF + 1


def index_args(layout: RedisLayout, article_id: str, fp: Fingerprint, outlet: int) -> list[str | bytes | int]:
    """The arguments of ``_INDEX_ARGS``, after ``now``."""
    return [
        article_id,
        bytes.fromhex(fp.content_hash),
        shard_name(int(fp.content_hash[:8], 16) % layout.shards),
        fp.sketch,
        fp.size,
        outlet,
        anchor_blob(fp.anchors, layout.shards),
    ]


_ANCHOR_ENTRY = np.dtype([("shard", "<u2"), ("anchor", "<u4")])  # packed: 6 bytes


def anchor_blob(anchors: Sequence[int], shards: int) -> bytes:
    """Per anchor its shard (2 bytes) and itself (a little-endian uint32): one script argument."""
    values = np.asarray(anchors, dtype=np.uint32)
    entries = np.empty(len(values), dtype=_ANCHOR_ENTRY)
    entries["shard"] = values % shards
    entries["anchor"] = values
    return entries.tobytes()


def index_config(
    layout: RedisLayout, thresholds: Thresholds, max_bucket: int, max_candidates: int
) -> dict[str, int | float | str]:
    """The configuration locals ``_COMMON`` and ``_INDEX`` need."""
    return {
        "window": layout.window_seconds,
        "shards": layout.shards,
        "max_bucket": max_bucket,
        "max_candidates": max_candidates,
        "min_jaccard": thresholds.min_jaccard,
        "min_containment": thresholds.min_containment,
        "min_agreeing_slots": MIN_AGREEING_SLOTS,
    }


async def compact_hash_entries(client: aioredis.Redis) -> int | None:
    """The most fields a Redis hash keeps in the compact encoding; None when Redis would not say
    (managed services may forbid CONFIG) or did not answer: this only informs a warning. The
    index's hashes fill with its size; past this many fields a hash is a hashtable (constant-time
    lookups, several times the memory), below it a list scanned field by field."""
    try:
        found = await client.config_get("hash-max-*-entries")
    except RedisError:
        return None
    values = [int(value) for value in found.values() if value is not None]
    return min(values) if values else None


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
        config = index_config(self.layout, thresholds, max_bucket, max_candidates)
        self._script = ScriptBatcher(client, lua_locals(**config) + _CHECK_AND_INSERT)

    def _args(self, article_id: str, fp: Fingerprint, now: float | None) -> list[str | bytes | int]:
        # No outlet (0): the index alone does not know it.
        return [_now(now), *index_args(self.layout, article_id, fp, 0)]

    async def check_and_insert(
        self, article_id: str, fp: Fingerprint, *, now: float | None = None
    ) -> Match | None:
        """See ``NearDuplicateIndex.check_and_insert``."""
        reply = await self._script([self.layout.prefix], self._args(article_id, fp, now))
        return _match(reply)

    async def check_and_insert_many(
        self, items: Sequence[tuple[str, Fingerprint]], *, now: float | None = None
    ) -> list[Match | None]:
        """``check_and_insert`` for a batch in one round trip, in order (each one atomic)."""
        calls: list[Call] = [
            ([self.layout.prefix], self._args(article_id, fp, now)) for article_id, fp in items
        ]
        return [_match(reply) for reply in await self._script.many(calls, raise_on_error=True)]


def _match(reply: list[int | bytes]) -> Match | None:
    if not reply or reply[0] == 0:
        return None
    _, article_id, kind, jaccard, containment = reply
    return Match(
        text_of(article_id),
        "exact" if kind == b"exact" else "near",
        float(text_of(jaccard)),
        float(text_of(containment)),
    )


def text_of(value: int | bytes) -> str:
    """A reply element as text."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def sentence_fields(source: str, keys: Collection[int]) -> dict[int, int]:
    """32-bit keys of (outlet, sentence) -> sentence key.

    32 bits per field keep the hashes compact; a collision only makes one sentence of one outlet
    look repeated a little early.
    """
    salt = zlib.crc32(source.encode("utf-8"))
    return {(key ^ salt ^ (key >> 32)) & 0xFFFFFFFF: key for key in keys}


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
        config = lua_locals(
            window=self.layout.window_seconds,
            shards=self.layout.shards,
            min_articles=valid_min_articles(min_articles),
        )
        self._script = ScriptBatcher(client, config + _SENTENCE_COUNTS)

    async def _call(
        self, source: str, keys: Collection[int], counting: bool, now: float | None
    ) -> frozenset[int]:
        if not keys:
            return frozenset()
        fields = sentence_fields(source, keys)
        args: list[int | bytes] = [_now(now), int(counting), pack_uint32(fields)]
        reply = await self._script([self.layout.prefix], args)
        return frozenset(fields[unpack_uint32(field)[0]] for field in reply)

    async def frequent(
        self, source: str, keys: Collection[int], *, now: float | None = None
    ) -> frozenset[int]:
        """See ``SentenceFrequency.frequent``."""
        return await self._call(source, keys, False, now)

    async def count(self, source: str, keys: Collection[int], *, now: float | None = None) -> None:
        """See ``SentenceFrequency.count``."""
        await self._call(source, keys, True, now)

    async def count_many(
        self, items: Sequence[tuple[str, Collection[int]]], *, now: float | None = None
    ) -> None:
        """``count`` for a batch of (outlet, keys) in one round trip (filling an index for tests)."""
        calls: list[Call] = [
            ([self.layout.prefix], [_now(now), 1, pack_uint32(sentence_fields(source, keys))])
            for source, keys in items
        ]
        await self._script.many(calls, raise_on_error=True)
