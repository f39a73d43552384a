"""The near-duplicate index and the per-outlet sentence counts in Redis, shared by all replicas.

One Lua script per call makes check-and-insert atomic: Redis runs scripts one at a time, so two
replicas that see two copies of one story at the same moment are serialised; the second sees the
first's entry and is told it is a duplicate. Scripts run on Redis 6.2 and 7.x. The Lua comes in
parts (``_COMMON``, ``_INDEX``, ``_SENTENCES``) that the index's script, the sentence counts' script
and the dedup stage's single script (``services.dedup.redis_dedup``) put together; configuration
(window, shards, thresholds) is bound into the script text, so a call sends only the article.

Layout (all keys carry the hash tag of ``prefix``, so they live in one cluster slot). A shard
``<shard>`` in a key name is the shard number as little-endian bytes, packed with ``struct``
rather than formatted as text (which costs Redis's Lua more than the command that uses the key).
The layout is the one of version 4 but for the anchors, which it kept in a family of hashes
(``{p}x:<shard>``) and which are now in tables (``{p}a:``, below): an index of version 4 is read
as it is, its anchor hashes too for one window more (they then expire).

* ``{p}meta``: the index's bookkeeping, read once and written once per script: ``seq`` (a counter
  giving every indexed article a compact integer id, which only grows with time), ``live`` (the
  first record block still alive), the anchor tables' generation and layers (``ag``, ``az``,
  ``ay``, ``an``, ``at``, ``af``: ``_INDEX``), the count family's shape (``cl``/``cp``: level and
  split pointer, below), its sweep's progress (``cc``/``cu``: the hash next in turn, the clock
  reached) and the count fields created in this generation and the last (``cn``, ``cm``; ``cg``:
  the generation of ``cn``); the gates' fields (``_SENTENCES``).
* ``{p}r:<seq // 1024>``: hash ``seq -> record`` (insertion time, shingle count, outlet tag, the
  first 8 bytes of the content hash, the 128-byte sketch, the article id). The key expires one
  window after its last insert; a record older than the window is ignored even while its block
  lives on.
* ``{p}a:<generation>:<layer>``: per generation, a table (string) of the anchors of the articles
  indexed in it: 64-byte buckets of ``TABLE_SLOTS`` slots (anchor, seq), an anchor in the first
  free slot from bucket anchor % buckets on. Sized from the generation before (``TABLE_LOAD`` of
  its slots taken), a larger layer added when a generation outgrows it; a lookup reads every
  layer of this generation's table and the last one's, a bucket (one GETRANGE) per anchor and
  layer, and so touches a couple of cache lines of Redis's memory per anchor whatever the size of
  the index (docs/scaling.md, "Anchor tables"). Deleted when the generation after the next begins
  (and set to expire then): it needs no sweep.
* ``{p}h:<shard>`` (``shards`` of them, named by 2 bytes the caller sends): exact content hash
  (16 bytes) -> seq, for texts without a single shingle only (a heading, a one-liner): any other
  copy shares all its anchors, so it is a candidate, and its record's hash head tells an exact
  copy from a near one. Nor is there a map of article ids: a redelivered article is a candidate
  of itself, and its record names it.
* Because seqs grow with time, a seq below the first live block is dead without looking at its
  record: dead seqs are skipped on read, and every 8th insert sweeps one exact hash of them.
  (Redis 6.2 cannot expire single hash fields; this is what bounds the exact hashes' memory.)
* ``{p}b:<generation>:<layer>``: per generation, a bitset (string) of the (outlet, sentence) pairs
  counted once: the gate in front of the counts below, so that a sentence seen once (most of
  them) costs a bit rather than a field. Sized from the generation before (``GATE_BITS`` bits per
  sentence it counted), a larger layer added when a generation outgrows it; deleted when the
  generation after the next begins (and set to expire then).
* ``{p}c:<shard>``: per-outlet sentence counts (``RedisSentenceFrequency``) of the sentences seen
  again: a family of hashes grown by linear hashing from 65,536 hashes (level 16; so at least 16
  bits of a count's 4-byte key choose its hash, and its field is the key's last 2 bytes): at level
  L with split pointer s it has 2^L + s, and key v lives in hash v % 2^L, or v % 2^(L+1) where
  that is below s. While the count fields created in this generation and the last outnumber
  ``split_at`` (64) per hash of the level, each script splits up to ``MAX_SPLITS`` hashes at the
  pointer (and merges them back below a quarter of that), so a hash holds 16 to ~80 fields and
  stays in Redis's compact encoding (a listpack scanned field by field, under 128 fields). A
  shard number below 65,536 is named by 2 little-endian bytes, a larger one by 4. A field counts
  the last two generations (``now // window``); once both are older it counts as nothing, like a
  missing field, but a busy hash never expires whole, so the family's sweep, paced by the clock,
  deletes such fields: a stale field goes within about a window of going stale, so no field outlives its
  last count by more than three windows (2 live, 1 stale); a hash nobody writes expires whole by
  then. Memory: the fields of sentences seen again in the last three windows at most. (Before the
  gates every sentence counted had a field: ~35 per article counted in a window, at ~20 sentences
  an article.) Work: each hash is read once per window, and the hashes grow with the fields, so
  the sweep's work per article does not depend on the size of the index.
* ``{p}held:<round>`` (the dedup stage's script only, ``services.dedup.redis_dedup``): the
  content hashes and anchors of the articles a round trip held back, for 60 s.
* Every hash carries a TTL of at least two windows past its last write, so an index that stops
  receiving articles empties itself. Its field ``_g`` says in which generation (``now // window``)
  the TTL was last renewed; it is read with the fields a script reads anyway, so a key's TTL is
  renewed once per generation rather than on every write (in the same HSET as the field written).

A check reads a fixed number of buckets (one per anchor and table layer, a few more where a
bucket is full), judges at most ``MAX_CANDIDATES`` records (those sharing the most anchors, then
the earliest), and an insert writes a fixed number of slots, so the commands per article do not
grow with the number of indexed articles; nor, since the count family grows its hashes, do the
fields per hash. The tables are sized from the generation before and the count family merges its
hashes back when they hold fewer than a quarter of ``split_at`` (after a burst, or a pause), so
their memory follows what they hold. newswire runs Redis with hashes compact up to 128 fields
(``shared.embedded_redis.COMPACT_HASH_ENTRIES``; Redis's own default is 512, under which the
compact hashes are longer lists to scan: docs/operations.md, "Redis configuration").
"""

from __future__ import annotations

import math
import struct
import time
import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.dedup.fingerprint import ANCHORS, MIN_AGREEING_SLOTS, Fingerprint
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
DEFAULT_SHARDS = 32768  # the exact hashes (and the anchor hashes at first, in version 4)
MAX_SHARDS = 65536  # an exact hash is named by 2 bytes
RECORD_BLOCK = 1024
COUNT_HASHES = 65536  # the sentence counts' hashes at first: the first 2 bytes of a field's 4
SWEEP_BATCH = 4  # at most this many hashes of a family swept by one script
# The anchor tables (see _INDEX): slots of a 64-byte bucket (8 bytes each: anchor, seq), how full a
# layer gets before the next one is begun (the share of its slots used: buckets past it are full
# often enough to lengthen lookups), the least and the most buckets a layer has (a Redis string
# holds at most 512 MB).
TABLE_SLOTS = 8
TABLE_BUCKET_BYTES = 8 * TABLE_SLOTS  # a cache line
TABLE_LOAD = 0.75
TABLE_MIN_BUCKETS = 2**10
TABLE_MAX_BUCKETS = 2**23
# The most buckets an anchor's chain runs through (a script runs alone in Redis, so no lookup may
# walk far): at three quarters full, an absent anchor's chain is 1.8 buckets on average (a
# simulation); only anchors made to collide (crafted text) reach this, and past it they are not
# indexed.
TABLE_MAX_CHAIN = 64
# A layer gets a successor once an insert has filled more than TABLE_LOAD of it, so it must have
# room for one more article's anchors past that: the least table_min_buckets a layout may set (tests).
TABLE_LEAST_BUCKETS = math.ceil(ANCHORS / (TABLE_SLOTS * (1 - TABLE_LOAD)))
# A family of hashes (the sentence counts; the anchors in an index of version 4) splits its hashes
# once it holds more than this many fields per hash of its level: so a hash holds about 32 to 80
# live fields at any size of the index (plus the stale ones that wait for their hash's sweep),
# under the 128 of the compact encoding.
SPLIT_AT = 64
MAX_SPLITS = 8  # at most this many hashes of a family split by one script
# The sentence counts' gates (see _SENTENCES): bits per sentence a generation's gate is sized for
# (one in this many sentences seen once looks seen before), the least and the most bits a layer has
# (a Redis string holds at most 2^32 bits), and how many bits one BITFIELD command reads or sets.
GATE_BITS = 32
GATE_MIN_BITS = 2**20
GATE_MAX_BITS = 2**32
GATE_CHUNK = 500
# A generation that outgrows its gate or its anchor table adds a layer sized for the rest of the
# generation at its pace so far, with this much to spare (a pace read from part of a generation is
# rough)...
LAYER_HEADROOM = 1.25
# ...and at most this many times the size of its last: a new wire of a million articles a window
# starts with the least size, and reads six layers, not eleven, for its first two windows (its later
# ones are sized from the generation before).
LAYER_GROWTH = 4
# Fields of {p}meta: the clock that the counts' sweep has reached.
SWEEP_CLOCKS = ("cu",)

# Lua shared by the scripts below. A script sets these locals first: p (key prefix), now, window,
# split_at (``RedisLayout.split_at``). Every hash the index writes holds a field ``_g``: the
# generation (``now // window``) in which the key's TTL was last renewed, read together with the
# fields a script needs anyway, so that a key's TTL is renewed once per generation instead of on
# every write. ``write`` sets one field of such a hash (``seen``: the ``_g`` read from it) and
# renews it in the same HSET when due; ``renew`` renews a hash written otherwise.
#
# Numbers go to Redis as text made by ``int`` (or once per script, ``gen_s``): Redis's Lua turns a
# number argument of redis.call into text with sprintf("%.14g"), the floating-point path, which
# cost more than some of the commands it fed (perf on redis-server: ~8% of its time; the dedup
# script's time fell ~11% without it, docs/scaling.md).
#
# The index's bookkeeping is the hash {p}meta, read once here (``meta``) and written back once at
# the end of the script (``save_meta``).
_COMMON = (
    """
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
-- Returns HSET's reply: how many fields it added.
local function write(key, seen, field, value)
  if not due(key, seen) then return redis.call('HSET', key, field, value) end
  local added = redis.call('HSET', key, field, value, '_g', gen_s)
  redis.call('EXPIREAT', key, key_expiry)
  return added
end

local meta_key = p .. 'meta'
local META_FIELDS = {'seq', 'live', '_g', 'ag', 'az', 'an', 'at', 'af', 'ay', 'xa', 'xl', 'xp', 'cl', 'cp',
  'cc', 'cu', 'cg', 'cn', 'cm', 'bg', 'bz', 'bm', 'bk', 'bn', 'bt', 'bf', 'lz', 'lm', 'lk', 'gs'}
local meta, meta_changed = {}, {}
do
  local values = redis.call('HMGET', meta_key, unpack(META_FIELDS))
  for i, name in ipairs(META_FIELDS) do meta[name] = values[i] or nil end  -- a missing field: false
end
local function set_meta(name, value)
  meta[name] = value
  meta_changed[name] = true
end
local function save_meta()
  local values = {}
  for name in pairs(meta_changed) do
    values[#values + 1] = name
    values[#values + 1] = meta[name]
  end
  if #values == 0 then return renew(meta_key, meta._g) end
  local renewing = due(meta_key, meta._g)
  if renewing then
    values[#values + 1] = '_g'
    values[#values + 1] = gen_s
  end
  redis.call('HSET', meta_key, unpack(values))
  if renewing then redis.call('EXPIREAT', meta_key, key_expiry) end
end

-- Families of hashes that grow with what they hold (linear hashing): the sentence counts (c:), and
-- the anchors (x:) of an index of version 4. A family at level L with split pointer s has 2^L + s
-- hashes, and a value v (a uint32: the sentence field, or the anchor) lives in hash v % 2^L, or
-- v % 2^(L+1) where that is below s. Hash numbers below 65,536 are named by 2 little-endian bytes,
-- larger ones by 4.
local function shard_name(shard)
  if shard < 65536 then return struct.pack('<H', shard) end
  return struct.pack('<I4', shard)
end
local function shape_of(level_field, split_field, base)
  local level = tonumber(meta[level_field]) or base
  return {level = level, split = tonumber(meta[split_field]) or 0, low = 2 ^ level, base = base,
    level_field = level_field, split_field = split_field}
end
local function shard_of(shape, v)
  local shard = v % shape.low
  if shard < shape.split then shard = v % (2 * shape.low) end
  return shard
end
local function hashes_of(shape) return shape.low + shape.split end
-- Deletes the named fields of a hash, a bounded number of arguments per command.
local function delete_fields(key, fields)
  for first = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, first, math.min(first + 999, #fields)))
  end
end

-- Writes a hash's fields (a flat list: field, value, ...) with a renewed TTL, a bounded number of
-- arguments per command.
local function write_fields(key, values)
  for first = 1, #values, 2000 do
    redis.call('HSET', key, '_g', gen_s, unpack(values, first, math.min(first + 1999, #values)))
  end
  if #values > 0 then
    redis.call('EXPIREAT', key, key_expiry)
    renewed[key] = true
  end
end
-- A hash's fields as a flat list (field, value, ...), its '_g' left out, and those whose value is
-- dead(value) if given; and whether the hash exists.
local function fields_of_hash(key, dead)
  local fields = redis.call('HGETALL', key)
  local found = {}
  for f = 1, #fields, 2 do
    if fields[f] ~= '_g' and not (dead and dead(fields[f + 1])) then
      found[#found + 1] = fields[f]
      found[#found + 1] = fields[f + 1]
    end
  end
  return found, #fields > 0
end
local function save_shape(shape)
  set_meta(shape.level_field, int(shape.level))
  set_meta(shape.split_field, int(shape.split))
end

-- Splits the hash at the split pointer in two and moves the pointer on: the fields whose value
-- has bit L set go to hash s + 2^L. When any field moves, both are written anew, so a hash that
-- had grown past the compact encoding is compact again. value_of(shard, field) is the field's
-- value v.
local function split_one(prefix, shape, value_of)
  local shard = shape.split
  local from, to = prefix .. shard_name(shard), prefix .. shard_name(shard + shape.low)
  local fields = fields_of_hash(from)
  local keep, move = {}, {}
  local high = 2 * shape.low
  for f = 1, #fields, 2 do
    local part = value_of(shard, fields[f]) % high == shard and keep or move
    part[#part + 1] = fields[f]
    part[#part + 1] = fields[f + 1]
  end
  if #move > 0 then
    redis.call('DEL', from)
    write_fields(from, keep)
    write_fields(to, move)
  end
  shape.split = shape.split + 1
  if shape.split == shape.low then
    shape.level, shape.low, shape.split = shape.level + 1, 2 * shape.low, 0
  end
  save_shape(shape)
end

-- The reverse: moves the pointer back and merges the hash split there last (s + 2^L) into its
-- pair (s), so the family has one hash fewer. A value's hash is then v % 2^L again, as before that
-- split, and a field's name is the same in either hash (for the counts, because their first level
-- has 2^16 hashes and a family never merges below its first level). The fields whose value is
-- dead(value) are left behind (a pause leaves hashes full of them, which would make the merged
-- hash too long to stay compact).
local function merge_one(prefix, shape, dead)
  if shape.split == 0 then
    shape.level, shape.low, shape.split = shape.level - 1, shape.low / 2, shape.low / 2
  end
  shape.split = shape.split - 1
  local into, from = prefix .. shard_name(shape.split), prefix .. shard_name(shape.split + shape.low)
  local moved, existed = fields_of_hash(from, dead)
  if existed then redis.call('DEL', from) end
  write_fields(into, moved)
  save_shape(shape)
end

-- While a family holds more than split_at fields per hash of its level (2^L: the hashes not split
-- in this round hold about that many), split: a round, once begun, doubles the hashes, a few per
-- script, so the work per field stays the same whatever the family's size. While it holds fewer
-- than a quarter of split_at per hash it has (after a burst, or a pause), merge, down to its first
-- level: a family's memory follows what it holds, not the most it ever held. Between the two (16 to
-- 32-64 fields a hash) it keeps its shape, so it never swings between splitting and merging.
local function grow(prefix, shape, fields, value_of, dead)
  local steps = 0
  while fields > split_at * shape.low and steps < MAX_SPLITS do
    split_one(prefix, shape, value_of)
    steps = steps + 1
  end
  while 4 * fields < split_at * hashes_of(shape) and (shape.level > shape.base or shape.split > 0)
      and steps < MAX_SPLITS do
    merge_one(prefix, shape, dead)
    steps = steps + 1
  end
end

-- Sweeps a family's hashes in turn, paced by the clock: each of its n hashes once a period
-- (seconds), at most SWEEP_BATCH a script. Field cursor of meta: the hash next in turn; field
-- upto: the clock the sweeps done so far have reached. More than a round behind (a pause, or
-- fewer than n / SWEEP_BATCH scripts a period), whole rounds are skipped but not the hashes next
-- in turn, so every hash is still swept within a period or n / SWEEP_BATCH scripts, whichever is
-- later.
local function sweep_paced(n, period, cursor_field, upto_field, sweep_one)
  local upto = tonumber(meta[upto_field])
  if not upto then  -- the first sweep of an index starts now
    set_meta(upto_field, int(now))
    return
  end
  local due_now = math.floor((now - upto) * n / period)
  if due_now <= 0 then return end
  if due_now > n then upto, due_now = now - period, n end
  local cursor = tonumber(meta[cursor_field]) or 0
  local batch = math.min(due_now, SWEEP_BATCH)
  for _ = 1, batch do
    sweep_one(cursor % n)
    cursor = cursor + 1
  end
  set_meta(cursor_field, int(cursor % n))
  set_meta(upto_field, tostring(upto + batch * period / n))
end

-- Strings per generation in layers (the sentence gates, the anchor tables): meta lists a
-- generation's layers' sizes as text (comma-separated).
local function sizes_listed(listed)
  local sizes = {}
  for size in string.gmatch(listed or '', '%d+') do sizes[#sizes + 1] = tonumber(size) end
  return sizes
end
local function listing(sizes)
  local texts = {}
  for i, size in ipairs(sizes) do texts[i] = int(size) end
  return table.concat(texts, ',')
end
-- How much more a generation (``at``) will hold, at the pace of the ``held`` since ``began``,
-- LAYER_HEADROOM to spare: what a layer added part-way through is sized for (a pace read from
-- part of a generation is rough).
local function still_to_come(held, began, at)
  local left = math.max(0, (at + 1) * window - now)
  return held * left / math.max(1, now - began) * LAYER_HEADROOM
end
-- Such a family, as of this script: its generation (it never goes back, should a replica's clock
-- lag), its keys (p .. name .. generation .. ':' .. layer), this generation's layers' sizes (this)
-- and the last one's (last), and kept(units), which counts units set in this generation's last
-- layer. When a generation begins, the layers read as the last ones until then are deleted (now
-- rather than when Redis's expiry finds them: it samples keys with a TTL, and may take minutes to
-- hit one of a million), and its first layer is sized for what the generation before set. A
-- layer expires when the generation after the next begins (set with its first units); one that
-- holds its share gets a successor, sized for the rest of the generation at its pace so far and
-- at most LAYER_GROWTH times the last. spec: name; fields, the meta fields of the generation
-- (gen), its sizes (sizes), the last one's (last), the units set in its last layer and in all
-- (in_layer, held) and when it began (began); size(units, most), a layer's size for that many
-- units; most, the largest; full(units, size), whether a layer holds its share; sizes_of(field),
-- how a sizes field reads (sizes_listed unless told); first(), the units a generation that does
-- not follow the last is sized for (0 unless told).
local function layered(spec)
  local f = spec.fields
  local read = spec.sizes_of or function(field) return sizes_listed(meta[field]) end
  local at = math.max(gen, tonumber(meta[f.gen]) or gen)
  local function key(generation, layer) return p .. spec.name .. int(generation) .. ':' .. int(layer) end
  if tonumber(meta[f.gen]) ~= at then
    local carried = tonumber(meta[f.gen]) == at - 1
    if carried then
      for layer = 0, #read(f.last) - 1 do redis.call('UNLINK', key(at - 2, layer)) end
    end
    local units = carried and tonumber(meta[f.held]) or (spec.first and spec.first() or 0)
    set_meta(f.last, carried and listing(read(f.sizes)) or '')
    set_meta(f.sizes, int(spec.size(units, spec.most)))
    set_meta(f.in_layer, '0')
    set_meta(f.held, '0')
    set_meta(f.began, int(now))
    set_meta(f.gen, int(at))
  end
  local family = {at = at, key = key, this = read(f.sizes), last = read(f.last)}
  function family.expires(layer) redis.call('EXPIREAT', key(at, layer), int((at + 2) * window + 1)) end
  function family.kept(units)
    local this = family.this
    local in_layer = tonumber(meta[f.in_layer]) + units
    local held = tonumber(meta[f.held]) + units
    set_meta(f.held, int(held))
    if in_layer == units then family.expires(#this - 1) end
    if spec.full(in_layer, this[#this]) then
      local coming = still_to_come(held, tonumber(meta[f.began]) or at * window, at)
      this[#this + 1] = spec.size(coming, math.min(spec.most, LAYER_GROWTH * this[#this]))
      set_meta(f.sizes, listing(this))
      in_layer = 0
    end
    set_meta(f.in_layer, int(in_layer))
  end
  return family
end
""".replace("SWEEP_BATCH", str(SWEEP_BATCH))
    .replace("MAX_SPLITS", str(MAX_SPLITS))
    .replace("LAYER_HEADROOM", str(LAYER_HEADROOM))
    .replace("LAYER_GROWTH", str(LAYER_GROWTH))
)

# The index. Sets: min_seq; defines record(), find(), insert(). Needs the locals of _COMMON and:
# shards, base_level (log2 of shards: the anchor hashes' first level in an index of version 4),
# table_min_buckets, max_bucket, max_candidates, min_jaccard, min_containment, article_id,
# content_hash, hash_key, sketch, size, outlet, anchors (a list of 4-byte strings: the anchors as
# little-endian uint32s).
#
# The anchor tables: per generation (``now // window``), layers of 64-byte buckets of TABLE_SLOTS
# slots, each an anchor and the seq of an article that has it (little-endian uint32s; a slot of
# zeros is free). An anchor v goes in the first free slot from bucket v % buckets on (linear
# probing, a bucket at a time; nothing is deleted from a table, so slots fill in order and an
# anchor's chain ends at the first bucket with a free slot). One GETRANGE reads a bucket: a lookup
# touches one or two cache lines of Redis's memory per anchor and layer, where a hash of anchors
# took a walk through Redis's dictionary and a scan of the hash (docs/scaling.md, "Anchor
# tables"). A generation's table is sized from the anchors the one before set (TABLE_LOAD of its
# slots), and gets another layer, sized for the rest of the generation at its pace so far, when it
# holds that many; a lookup reads every layer of this generation's table and the last one's (an
# article is live for one window, so the generation before holds the older part of the window).
# A table is deleted when the generation after the next begins (and set to expire then), so it
# needs no sweep, and a dead article's anchors are gone within a window of its death.
# Meta fields: ag (the tables' generation: it never goes back, should a replica's clock lag), az
# (its layers' sizes, in buckets), an (anchors set in its last layer), at (in all of them), af
# (when it began), ay (the last generation's sizes). An index of version 4 kept its anchors in a
# family of hashes (x:, like the sentence counts'): its first table is sized for its live anchors,
# and the hashes are read too until one window has passed (meta xa: until when), then expire.
_TABLE_PROBE = "\n".join(
    [
        "local function probe(key, buckets, v, seen)",
        "  local b = v % buckets",
        "  for _ = 1, math.min(buckets, TABLE_MAX_CHAIN) do",
        f"    local at = b * {TABLE_BUCKET_BYTES}",
        f"    local raw = redis.call('GETRANGE', key, int(at), int(at + {TABLE_BUCKET_BYTES - 1}))",
        f"    if #raw < {TABLE_BUCKET_BYTES} then raw = raw .. string.sub(EMPTY_BUCKET, #raw + 1) end",
        "    local "
        + ", ".join(f"a{k}, s{k}" for k in range(1, TABLE_SLOTS + 1))
        + " = struct.unpack('<"
        + "I4" * 2 * TABLE_SLOTS
        + "', raw)",
        *(
            line
            for k in range(1, TABLE_SLOTS + 1)
            for line in (
                f"    if s{k} == 0 then return at + {8 * (k - 1)} end",
                f"    if a{k} == v and s{k} >= live_from then seen(s{k}) end",
            )
        ),
        "    b = (b + 1) % buckets",
        "  end",
        "  return nil",
        "end",
    ]
)
_INDEX = (
    """
local horizon = now - window
local slots = #sketch
local hash_head = string.sub(content_hash, 1, HASH_HEAD)
-- Seqs only grow with time, so everything below the first record block still alive is dead:
-- one number tells dead entries from live ones without touching their records.
local live = tonumber(meta.live or '0')
local top_block = math.floor(tonumber(meta.seq or '0') / BLOCK)
local moved = false
while live < top_block and redis.call('EXISTS', p .. 'r:' .. live) == 0 do
  live = live + 1
  moved = true
end
if moved then set_meta('live', int(live)) end
local min_seq = live * BLOCK
local live_from = math.max(min_seq, 1)  -- (seqs begin at 1: a free slot's 0 is no article)

-- The anchor tables of this generation and the last (layered, in _COMMON; sizes in buckets).
local anchor_tables = layered({
  name = 'a:',
  fields = {gen = 'ag', sizes = 'az', last = 'ay', in_layer = 'an', held = 'at', began = 'af'},
  size = function(anchors_held, most)
    return math.min(most, math.max(table_min_buckets, math.ceil(anchors_held / (TABLE_SLOTS * TABLE_LOAD))))
  end,
  most = TABLE_MAX_BUCKETS,
  full = function(anchors_held, buckets) return anchors_held > TABLE_SLOTS * TABLE_LOAD * buckets end,
  first = function()
    -- An index of version 4: its live anchors are in hashes, read for a window more.
    if meta.ag or tonumber(meta.seq or '0') <= min_seq then return 0 end
    set_meta('xa', int(now + window))
    return ANCHORS * (tonumber(meta.seq) - min_seq)
  end,
})
local tables = {}  -- {key, buckets} per layer; this generation's last layer first
do
  local this, last, at = anchor_tables.this, anchor_tables.last, anchor_tables.at
  for layer = #this, 1, -1 do tables[#tables + 1] = {anchor_tables.key(at, layer - 1), this[layer]} end
  for layer = 1, #last do tables[#tables + 1] = {anchor_tables.key(at - 1, layer - 1), last[layer]} end
end
local EMPTY_BUCKET = string.rep('\\0', TABLE_BUCKET_BYTES)
-- Reads anchor v's chain in a layer (key, buckets), calling seen(seq) for each live article that
-- has it; returns the byte offset of the chain's first free slot (where v would go), or nil past
-- TABLE_MAX_CHAIN buckets.
PROBE

-- A bucket's seqs in an anchor hash (version 4) are in insertion order, so the live ones are a tail.
local function live_part(packed)
  for i = 1, #packed, 4 do
    if struct.unpack('<I4', packed, i) >= min_seq then
      if i == 1 then return packed end
      return string.sub(packed, i)
    end
  end
  return ''
end
-- An index of version 4: its anchor hashes (x:) are read as well until meta xa (a window after
-- the first script of this version; nothing writes them, and they expire).
local hashes_until = tonumber(meta.xa)
local anchor_shape = hashes_until and now < hashes_until and shape_of('xl', 'xp', base_level)

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

-- Only texts without a shingle are in the exact hashes: any other copy shares all its anchors.
local same = size <= 0 and redis.call('HMGET', hash_key, content_hash, '_g') or {}
local places = {}  -- per anchor (in order): {v, how many live articles have it, its free slot}

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
  local having  -- live articles that have the anchor read
  local function seen(seq)
    having = having + 1
    if hits[seq] then
      hits[seq] = hits[seq] + 1
    else
      hits[seq] = 1
      candidates[#candidates + 1] = seq
    end
  end
  for a, anchor in ipairs(anchors) do
    local v = struct.unpack('<I4', anchor)
    having = 0
    local free = probe(tables[1][1], tables[1][2], v, seen)
    for t = 2, #tables do probe(tables[t][1], tables[t][2], v, seen) end
    if anchor_shape then
      local packed = redis.call('HGET', p .. 'x:' .. shard_name(shard_of(anchor_shape, v)), anchor)
      packed = packed and live_part(packed) or ''
      for i = 1, #packed, 4 do seen((struct.unpack('<I4', packed, i))) end
    end
    places[a] = {v, having, free}
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

local function ignore() end
local function insert()
  local seq = redis.call('HINCRBY', meta_key, 'seq', '1')
  local record_key = p .. 'r:' .. int(math.floor(seq / BLOCK))
  local head = struct.pack('<I4I4I4', now, size, outlet) .. hash_head
  redis.call('HSET', record_key, int(seq), head .. sketch .. article_id)
  redis.call('EXPIREAT', record_key, int(now + window + 1))
  local packed_seq = struct.pack('<I4', seq)
  local key, buckets = tables[1][1], tables[1][2]
  local taken, added = {}, 0
  for a, place in ipairs(places) do
    local v, having, free = place[1], place[2], place[3]
    if having < max_bucket then
      -- Two anchors of this article may have found the same free slot: the second looks again.
      if free and taken[free] then free = probe(key, buckets, v, ignore) end
      if free then
        redis.call('SETRANGE', key, int(free), anchors[a] .. packed_seq)
        taken[free] = true
        added = added + 1
      end
    end
  end
  if added > 0 then anchor_tables.kept(added) end
  if size <= 0 then write(hash_key, same[2], content_hash, int(seq)) end
  -- Every 8th insert sweeps one exact hash (its dead fields go): texts without a shingle are
  -- few, so these hashes stay small; all of them are swept every 8 * shards inserts.
  if seq % 8 == 0 then
    local swept = p .. 'h:' .. struct.pack('<H', (seq / 8) % shards)
    local fields = redis.call('HGETALL', swept)
    for f = 1, #fields, 2 do
      if fields[f] ~= '_g' and tonumber(fields[f + 1]) < min_seq then redis.call('HDEL', swept, fields[f]) end
    end
  end
end
""".replace("PROBE", _TABLE_PROBE)
    .replace("BLOCK", str(RECORD_BLOCK))
    .replace("HASH_HEAD", str(EXACT_HEAD_BYTES))
    .replace("TABLE_BUCKET_BYTES", str(TABLE_BUCKET_BYTES))
    .replace("TABLE_SLOTS", str(TABLE_SLOTS))
    .replace("TABLE_LOAD", str(TABLE_LOAD))
    .replace("TABLE_MAX_BUCKETS", str(TABLE_MAX_BUCKETS))
    .replace("TABLE_MAX_CHAIN", str(TABLE_MAX_CHAIN))
    .replace("LAYER_GROWTH", str(LAYER_GROWTH))
    .replace("ANCHORS", str(ANCHORS))
)

# Per-outlet sentence counts. The key f of an (outlet, sentence) is 4 bytes (a little-endian uint32
# v). Most sentences are an outlet's once only, so the first time a generation (``now // window``)
# sees one, it only sets the sentence's bit in that generation's gate (below); a sentence whose bit
# is set already is counted in a family of hashes grown by linear hashing from 2^16 hashes
# (``COUNT_HASHES``): its hash is chosen by v's low bits (at least 16, so at its first size the hash
# is named by f's first two bytes), its field in that hash is f's last two bytes. The value is
# at * 65536 + last * 256 + this: how many more of the outlet's articles carried the sentence in
# generation ``at`` (this) and in the one before (last), each up to min_articles. ``at`` is the
# generation modulo 128, so a value fits Redis's 3-byte integer encoding in a compact hash; no field
# outlives three windows (below), so 128 tell this generation, the last and older ones apart.
# Values written with the full number (by earlier versions) read the same, since it is taken modulo
# 128 on reading too. So the articles that carried a sentence in this generation and the last are
# its two gate bits plus its count, and a count covers between one and two windows of an outlet's
# unique articles. (Counts that earlier versions wrote, before the gates, counted the first article
# too: with the gates' bits, unset for them, they add up the same; they are read whatever the gates
# say until they are stale, meta field gs below.) Defines fields_of(blob), frequent(fields) (reads,
# and remembers what it read), count(fields) (and grows the family) and sweep_counts(). Needs the
# locals of _COMMON and min_articles (at most 255).
#
# A gate is a bitset per generation: a sentence's bit is v modulo the gate's size, so another
# sentence's bit makes one look seen a generation early ~1/GATE_BITS of the time (then it is counted
# from its first article, and may be taken for template one article early). A generation's gate is
# sized from the sentences the one before set (GATE_BITS bits each, GATE_MIN_BITS at least), so that
# its memory and its share of wrong bits follow what the wire carries; when a generation sets more
# than that, its gate gets another layer (layer n: {p}b:<generation>:<n>), sized for the rest of the
# generation at its pace so far (``layered``, in _COMMON), which new bits go to and every read looks in.
# Meta fields: bg (the gates' generation: it never goes back, should a replica's clock lag), bz
# (its layers' sizes; versions before kept bm and bk, the first one's size and how many, each
# LAYER_GROWTH times the one before, and their meta is read so until its next generation), bn (bits
# set in its last layer), bt (in all of them), bf (when it began); lz (the last generation's
# sizes; or lm and lk); gs (the first gate's generation, in an index that counted before it had gates:
# for two generations from it every count is read, whatever the gates say, since those counts
# hold first articles that no gate bit stands for). frequent() sets the article's bits in this
# generation's last layer as it reads them (one command, not a read and a write later); count()
# keeps them, forget() takes them back, and a script calls one of the two after frequent(). A gate
# is deleted when the generation after the next begins (it expires then too, should none begin):
# it needs no sweep. Only the hashes do: a field both of
# whose counts are older than the generations read counts as 0, exactly like a missing field, but
# busy hashes never expire whole, so such fields are deleted by the family's sweep, paced by the
# clock (sweep_paced): so the work per article is the fields of one window's hashes divided by
# the articles of a window, whatever the size of the index. How many fields the family holds, for
# its growth: those it created in this generation and the last (meta fields cn and cm; cg: the
# generation of cn).
_SENTENCES = (
    """
local counts_prefix = p .. 'c:'
local count_shape = shape_of('cl', 'cp', COUNT_LEVEL)
local read = {}
local function fields_of(blob)
  local fields = {}
  for i = 1, #blob, 4 do fields[#fields + 1] = string.sub(blob, i, i + 3) end
  return fields
end
local function count_value(shard, field) return struct.unpack('<H', field) * 65536 + shard % 65536 end
-- A count's generation, modulo 128 (whether written so or with the full number).
local function gen_of(value) return math.floor(value / 65536) % 128 end
local this_gen, last_gen, next_gen = gen % 128, (gen - 1) % 128, (gen + 1) % 128
-- A count both of whose generations are older than the two read: it counts as nothing. (One of the
-- next generation, from a replica whose clock is ahead, is not stale.)
local function count_stale(value)
  local at = gen_of(tonumber(value))
  return at ~= this_gen and at ~= last_gen and at ~= next_gen
end

-- A gate's layers' sizes, as meta lists them, or as versions before it kept them: the first
-- layer's size and how many layers, each LAYER_GROWTH times the one before.
local function sizes_of(listed, first, layers)
  if listed then return sizes_listed(listed) end
  local sizes = {}
  for layer = 0, (tonumber(layers) or 0) - 1 do
    sizes[#sizes + 1] = math.min(GATE_MAX_BITS, tonumber(first) * LAYER_GROWTH ^ layer)
  end
  return sizes
end
-- The gates of this generation and the last (layered, in _COMMON; sizes in bits).
local gate_family = layered({
  name = 'b:',
  fields = {gen = 'bg', sizes = 'bz', last = 'lz', in_layer = 'bn', held = 'bt', began = 'bf'},
  sizes_of = function(field)
    if field == 'bz' then return sizes_of(meta.bz, meta.bm, meta.bk) end
    return sizes_of(meta.lz, meta.lm, meta.lk)
  end,
  -- A layer's size for `bits` bits (GATE_BITS each), between GATE_MIN_BITS and `most`, rounded up
  -- to three significant bits: a wire as busy as in the generation before gets a gate of the same
  -- size, whose bits' offsets are the same text (made once for both gates).
  size = function(bits, most)
    local size = math.max(GATE_MIN_BITS, GATE_BITS * bits)
    local step = 2 ^ math.max(0, math.floor(math.log(size) / math.log(2)) - 2)
    return math.min(most, math.ceil(size / step) * step)
  end,
  most = GATE_MAX_BITS,
  -- None past GATE_MAX_BITS: the last one fills up instead.
  full = function(bits, size) return bits * GATE_BITS >= size and size < GATE_MAX_BITS end,
  first = function()
    -- The first gate of an index that counted before gates: its counts hold first articles too,
    -- and those of a sentence whose gate bit is not set must be read as well until they are stale.
    if not meta.bg and meta.cg then set_meta('gs', gen_s) end
    return 0
  end,
})
-- Counts written before the gates (for two generations after the first gate) are read whatever
-- the gate says.
local counted_before_gates = gen < (tonumber(meta.gs) or -2) + 2
local gates = {
  {gate_family.at, gate_family.this},
  {gate_family.at - 1, gate_family.last},
}
local function layer_size(gate, layer) return gate[2][layer + 1] end
local offsets = {}  -- per layer size, each value's bit offset as text
local function bits_of(values, size)
  local found = offsets[size]
  if not found then
    found = {}
    for i, v in ipairs(values) do found[i] = int(v % size) end
    offsets[size] = found
  end
  return found
end
-- BITFIELD on a gate's layer: op ('GET', or 'SET' and value) on the bits of values (those at the
-- positions listed in only, if given); their old bits.
local function gate_bits(gate, layer, values, op, value, only)
  local at, key, bits = bits_of(values, layer_size(gate, layer)), gate_family.key(gate[1], layer), {}
  local picked = only
  if not picked then
    picked = {}
    for i = 1, #values do picked[i] = i end
  end
  for first = 1, #picked, GATE_CHUNK do
    local args = {}
    for n = first, math.min(first + GATE_CHUNK - 1, #picked) do
      args[#args + 1] = op
      args[#args + 1] = 'u1'
      args[#args + 1] = at[picked[n]]
      if value then args[#args + 1] = value end
    end
    for _, bit in ipairs(redis.call('BITFIELD', key, unpack(args))) do bits[#bits + 1] = bit end
  end
  return bits
end

-- This article's sentences: values, and which bits of this generation's last layer frequent() set.
local marked, marked_values = {}, {}
-- Per value, how many of the two gates had its bit set (0, 1 or 2), and whether this one had. Sets
-- the bits in this generation's last layer on the way (one command instead of a read now and a
-- write later): count() keeps them, forget() takes them back.
local function gated(values)
  local seen, seen_now = {}, {}
  for i = 1, #values do seen[i] = 0 end
  for g, gate in ipairs(gates) do
    local found = {}
    for layer = 0, #gate[2] - 1 do
      local last_layer = g == 1 and layer == #gate[2] - 1
      local old = gate_bits(gate, layer, values, last_layer and 'SET' or 'GET', last_layer and '1' or nil)
      for i, bit in ipairs(old) do
        if bit == 1 then
          found[i] = true
        elseif last_layer then
          marked[#marked + 1] = i
        end
      end
    end
    for i in pairs(found) do
      seen[i] = seen[i] + 1
      if g == 1 then seen_now[i] = true end
    end
  end
  marked_values = values
  return seen, seen_now
end
-- Takes back the bits frequent() set: the article is not counted.
local function forget()
  if #marked == 0 then return end
  local gate = gates[1]
  local layer = #gate[2] - 1
  if tonumber(meta.bn) == 0 then gate_family.expires(layer) end  -- (no article counted in it yet)
  gate_bits(gate, layer, marked_values, 'SET', '0', marked)
  marked = {}
end
-- Keeps the bits frequent() set (a layer that holds its share gets a successor: layered).
local function keep_marked()
  if #marked == 0 then return end
  gate_family.kept(#marked)
  marked = {}
end

local function frequent(fields)
  local values = {}
  for i, f in ipairs(fields) do values[i] = struct.unpack('<I4', f) end
  local seen, seen_now = gated(values)
  local found = {}
  for i, f in ipairs(fields) do
    local known = {opened = seen_now[i], this = 0, last = 0}
    if seen[i] > 0 or counted_before_gates then  -- only a sentence seen before has a count
      known.key = counts_prefix .. shard_name(shard_of(count_shape, values[i]))
      known.field = string.sub(f, 3, 4)
      local stored = redis.call('HMGET', known.key, known.field, '_g')
      local v = tonumber(stored[1]) or 0
      local at, this, last = gen_of(v), v % 256, math.floor(v / 256) % 256
      -- this and last as of this generation
      if at == last_gen then
        this, last = 0, this
      elseif at ~= this_gen then
        this, last = 0, 0
      end
      known.this, known.last, known.seen = this, last, stored[2]
    end
    read[f] = known
    if seen[i] + known.this + known.last >= min_articles then found[#found + 1] = f end
  end
  return found
end

local function count(fields)
  local added = 0
  for _, f in ipairs(fields) do
    local known = read[f]
    -- The first time this generation, its gate bit (set by frequent) is its count. Once this
    -- generation's count reaches min_articles, more tells nothing, now or next window.
    if known.opened and known.this < min_articles then
      local value = int(this_gen * 65536 + known.last * 256 + known.this + 1)
      added = added + write(known.key, known.seen, known.field, value)
    end
  end
  keep_marked()
  local counted_in = tonumber(meta.cg)
  if counted_in ~= gen then
    set_meta('cm', counted_in == gen - 1 and (meta.cn or '0') or '0')
    set_meta('cn', '0')
    set_meta('cg', gen_s)
  end
  local created = (tonumber(meta.cn) or 0) + added
  if added > 0 then set_meta('cn', int(created)) end
  grow(counts_prefix, count_shape, created + (tonumber(meta.cm) or 0), count_value, count_stale)
end

-- Deletes the stale fields of the count hashes whose sweep is due.
local function sweep_count_hash(shard)
  local key = counts_prefix .. shard_name(shard)
  local fields = redis.call('HGETALL', key)
  local stale, kept = {}, 0
  for f = 1, #fields, 2 do
    if fields[f] ~= '_g' then
      if count_stale(fields[f + 1]) then stale[#stale + 1] = fields[f] else kept = kept + 1 end
    end
  end
  if kept == 0 and #stale > 0 then
    redis.call('DEL', key)
  else
    delete_fields(key, stale)
  end
end
local function sweep_counts()
  sweep_paced(hashes_of(count_shape), window, 'cc', 'cu', sweep_count_hash)
end
""".replace("COUNT_LEVEL", str(COUNT_HASHES.bit_length() - 1))
    .replace("GATE_BITS", str(GATE_BITS))
    .replace("GATE_MIN_BITS", str(GATE_MIN_BITS))
    .replace("GATE_MAX_BITS", str(GATE_MAX_BITS))
    .replace("GATE_CHUNK", str(GATE_CHUNK))
    .replace("LAYER_GROWTH", str(LAYER_GROWTH))
)
MAX_MIN_ARTICLES = 255  # a count has 8 bits


def gate_counted(generation: int, sentences: int) -> dict[str, int]:
    """The fields of ``{p}meta`` that say generation ``generation``'s gate (one layer) set
    ``sentences`` bits: what the next generation's gate is sized from (``_SENTENCES``). For
    pre-loading an index as of a later generation."""
    return {"bg": generation, "bz": GATE_MIN_BITS, "bn": sentences, "bt": sentences}


def table_counted(generation: int, anchors: int, buckets: int) -> dict[str, int]:
    """The fields of ``{p}meta`` that say generation ``generation``'s anchor table (one layer of
    ``buckets``, key ``table_key``) holds ``anchors``: the next generation's table is sized from
    it, and reads it as the last one. For pre-loading an index as of a later generation."""
    return {"ag": generation, "az": buckets, "an": anchors, "at": anchors}


def table_key(layout: RedisLayout, generation: int, layer: int) -> str:
    """The key of a layer of a generation's anchor table (as the scripts name it)."""
    return f"{layout.prefix}a:{generation}:{layer}"


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


# ARGV: now, article_id, content_hash, hash_shard (2 bytes), sketch, size, outlet tag, anchors (4
# bytes each: the anchors as little-endian uint32s; the script finds their hashes).
_INDEX_ARGS = """
local p = KEYS[1]
local now = tonumber(ARGV[1])
local article_id = ARGV[2]
local content_hash = ARGV[3]
local hash_key = p .. 'h:' .. ARGV[4]
local sketch = ARGV[5]
local size = tonumber(ARGV[6])
local outlet = tonumber(ARGV[7])
local anchors = {}
for i = 1, #ARGV[8], 4 do anchors[#anchors + 1] = string.sub(ARGV[8], i, i + 3) end
"""

_CHECK_AND_INSERT = (
    _INDEX_ARGS
    + _COMMON
    + _INDEX
    + """
local match = find()
if match == nil then insert() end
save_meta()
if match == nil or match == 'self' then return {0} end
return {1, match[1], match[2], match[3], match[4]}
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
  sweep_counts()
  save_meta()
else
  forget()
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
    # Fields per hash past which the sentence counts split their hashes (tests make it small to see
    # them grow).
    split_at: int = SPLIT_AT
    # The least buckets an anchor table's layer has (tests make it small to see tables fill).
    table_min_buckets: int = TABLE_MIN_BUCKETS

    def __post_init__(self) -> None:
        if not 0 < self.shards <= MAX_SHARDS or self.shards & (self.shards - 1):
            raise ValueError(
                f"shards must be a power of two in 1..{MAX_SHARDS} (a shard is named by 2 bytes)"
            )
        if self.split_at < 1:
            raise ValueError("split_at must be at least 1")
        if not TABLE_LEAST_BUCKETS <= self.table_min_buckets <= TABLE_MAX_BUCKETS:
            raise ValueError(f"table_min_buckets must be {TABLE_LEAST_BUCKETS}..{TABLE_MAX_BUCKETS}")


def shard_name(shard: int) -> bytes:
    """A shard number below 65,536 as it ends a key name: 2 little-endian bytes (the scripts name
    the larger hashes that the anchors and counts split into with 4)."""
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
        pack_uint32(fp.anchors),
    ]


def index_config(
    layout: RedisLayout, thresholds: Thresholds, max_bucket: int, max_candidates: int
) -> dict[str, int | float | str]:
    """The configuration locals ``_COMMON`` and ``_INDEX`` need."""
    return {
        "window": layout.window_seconds,
        "shards": layout.shards,
        "base_level": layout.shards.bit_length() - 1,
        "split_at": layout.split_at,
        "table_min_buckets": layout.table_min_buckets,
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
            split_at=self.layout.split_at,
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
