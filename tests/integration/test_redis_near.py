"""The Redis near-duplicate index against a real redis-server: same verdicts, atomic, windowed."""

from __future__ import annotations

import asyncio
import math
import struct
import time
from typing import cast

import pytest
import redis.asyncio as aioredis

from services.dedup.fingerprint import NO_BOILERPLATE, Fingerprint, fingerprint
from services.dedup.near import (
    MAX_CANDIDATES,
    InMemoryNearIndex,
    InMemorySentenceFrequency,
    NearDuplicateDetector,
)
from services.dedup.redis_near import (
    COUNT_HASHES,
    GATE_BITS,
    GATE_MIN_BITS,
    LAYER_GROWTH,
    MAX_SPLITS,
    RECORD_BLOCK,
    SWEEP_BATCH,
    TABLE_LEAST_BUCKETS,
    TABLE_LOAD,
    TABLE_MAX_CHAIN,
    TABLE_SLOTS,
    RedisLayout,
    RedisNearIndex,
    RedisSentenceFrequency,
    sentence_fields,
    shard_name,
)
from tests.story_texts import story_sentences

pytestmark = pytest.mark.integration

LEGAL = (
    "Der Volltext dieses auf Agenturmeldungen basierenden Artikels steht aus rechtlichen "
    "Gründen nicht mehr zur Verfügung."
)
HEADLINE = "Neue Brücke über den Fluss nach drei Jahren Bauzeit eröffnet"
BODY = (
    "Nach drei Jahren Bauzeit ist am Samstag die neue Brücke über den Fluss für den Verkehr "
    "freigegeben worden. Der Bürgermeister sprach bei der Eröffnung von einem wichtigen Tag.",
    "Die Brücke ersetzt einen Bau aus den fünfziger Jahren, der zuletzt nur noch einspurig "
    "befahren werden durfte. Täglich sollen rund zwanzigtausend Fahrzeuge die Brücke nutzen.",
    "Die Baukosten lagen mit knapp achtzig Millionen Euro deutlich über der ersten Schätzung. "
    "Als Grund nannte die Stadt gestiegene Preise für Stahl und Beton.",
    "Anwohner hatten sich während der Bauzeit über Lärm und Umleitungen beschwert. Die Stadt "
    "kündigte an, die Umleitungsstrecken bis zum Jahresende zurückzubauen.",
)
OTHER = (
    "Gemeinderat wählt neue Bürgermeisterin im zweiten Wahlgang",
    (
        "Die Gemeinde hat eine neue Bürgermeisterin: Im zweiten Wahlgang setzte sich die "
        "bisherige Vizebürgermeisterin mit knapper Mehrheit gegen ihren Herausforderer durch.",
        "Im ersten Wahlgang hatte keiner der drei Kandidaten die nötige Mehrheit erreicht.",
    ),
)
STUB_LEADS = (
    "Zugausfälle im Berufsverkehr nach einem Stellwerksbrand am frühen Morgen.",
    "Forscher entdecken eine bisher unbekannte Käferart im Regenwald.",
    "Notenbank lässt den Leitzins trotz schwacher Konjunktur unverändert.",
    "Schwimmerin stellt bei den Meisterschaften einen neuen Europarekord auf.",
)
NOW = 1_800_000_000.0


@pytest.fixture
def layout() -> RedisLayout:
    return RedisLayout(window_seconds=3600, shards=64)


async def test_truncated_and_republished_copies_match_the_first(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A cut copy and a re-bylined copy both point at the article indexed first."""
    index = RedisNearIndex(redis_client, layout)
    assert await index.check_and_insert("orig", fingerprint(HEADLINE, BODY), now=NOW) is None
    cut = await index.check_and_insert("cut", fingerprint(HEADLINE, BODY[:2]), now=NOW + 1)
    copy = await index.check_and_insert(
        "copy", fingerprint(f"Nordkurier - {HEADLINE}", (*BODY, "(K.Novak--NPM)")), now=NOW + 2
    )
    assert cut is not None and (cut.article_id, cut.kind) == ("orig", "near")
    assert copy is not None and copy.article_id == "orig"


async def test_exact_copy_and_unrelated_story(redis_client: aioredis.Redis, layout: RedisLayout) -> None:
    """Same text in other case is an exact match; another story is unique."""
    index = RedisNearIndex(redis_client, layout)
    await index.check_and_insert("a", fingerprint(HEADLINE, BODY), now=NOW)
    exact = await index.check_and_insert("b", fingerprint(HEADLINE.upper(), BODY), now=NOW + 1)
    assert exact is not None and (exact.article_id, exact.kind) == ("a", "exact")
    assert await index.check_and_insert("c", fingerprint(*OTHER), now=NOW + 2) is None


async def test_a_brief_is_not_matched_to_a_long_article_by_accidental_slot_agreements(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A 10-shingle brief that shares one anchor with an unrelated 1,000-shingle article and agrees
    with its sketch in 2 of 128 slots (8-bit slots agree by accident 1 time in 256) is unique, in
    Redis and in memory alike: those agreements would otherwise imply the brief lies inside it."""
    long = Fingerprint("aa" * 16, bytes(range(128)), 1000, tuple(range(1, 17)))
    sketch = bytes([0, 1] + [255 - slot for slot in range(2, 128)])  # slots 0 and 1 agree
    brief = Fingerprint("bb" * 16, sketch, 10, (1, *range(5000, 5015)))
    for index in (RedisNearIndex(redis_client, layout), InMemoryNearIndex()):
        assert await index.check_and_insert("long", long, now=NOW) is None
        assert await index.check_and_insert("brief", brief, now=NOW + 1) is None


async def test_a_copy_is_found_past_many_earlier_articles_that_share_one_anchor_each(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """More than MAX_CANDIDATES earlier articles, each sharing just one anchor with the original,
    do not crowd it out: candidates sharing the most anchors are judged first, in Redis and in
    memory alike."""
    original = Fingerprint("aa" * 16, bytes(range(128)), 200, tuple(range(1, 17)))
    # An edited copy: 100 of 128 slots and 12 of 16 anchors as the original's.
    copy = Fingerprint(
        "cc" * 16, bytes(range(100)) + bytes([255] * 28), 200, (*range(1, 13), *range(900, 904))
    )
    crowd = [  # 4 per anchor of the original: 48 of them share one anchor with the copy
        (
            f"crowd-{a}-{k}",
            Fingerprint(f"{4 * a + k:016x}" + "0" * 16, bytes([200 + k]) * 128, 200, (a, 1000 + 16 * a + k)),
        )
        for a in range(1, 17)
        for k in range(4)
    ]
    assert len(crowd) > MAX_CANDIDATES
    for index in (RedisNearIndex(redis_client, layout), InMemoryNearIndex(layout.window_seconds)):
        assert [await index.check_and_insert(i, fp, now=NOW) for i, fp in crowd] == [None] * len(crowd)
        assert await index.check_and_insert("original", original, now=NOW + 1) is None
        found = await index.check_and_insert("copy", copy, now=NOW + 2)
        assert found is not None and (found.article_id, found.kind) == ("original", "near")
        await redis_client.flushdb()


async def test_a_text_too_short_for_a_shingle_matches_its_exact_copy_only(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A one-line text (no 5-word shingle) is matched by its content hash alone: an exact copy is a
    duplicate, another one-liner is not, and its redelivery stays unique."""
    line = fingerprint("Eilmeldung", ("Bahnstreik beendet.",))
    assert not line.has_sketch
    for index in (RedisNearIndex(redis_client, layout), InMemoryNearIndex(layout.window_seconds)):
        assert await index.check_and_insert("line", line, now=NOW) is None
        assert await index.check_and_insert("line", line, now=NOW + 1) is None
        found = await index.check_and_insert(
            "again", fingerprint("EILMELDUNG", ("Bahnstreik beendet",)), now=NOW + 2
        )
        assert found is not None and (found.article_id, found.kind) == ("line", "exact")
        other = fingerprint("Eilmeldung", ("Streik beginnt.",))
        assert await index.check_and_insert("other", other, now=NOW + 3) is None
        await redis_client.flushdb()


async def test_stubs_sharing_the_legal_sentence_are_unique(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """The stub trap: stubs that share only the legal sentence are all unique."""
    index = RedisNearIndex(redis_client, layout)
    for n, lead in enumerate(STUB_LEADS):
        assert await index.check_and_insert(f"s{n}", fingerprint(lead, (LEGAL,)), now=NOW + n) is None


async def test_same_verdicts_as_the_in_memory_index(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Redis and in-memory indexes agree on a mixed stream (same rule, same sketches)."""
    stream = [
        ("a", fingerprint(HEADLINE, BODY[:2])),
        ("b", fingerprint(*OTHER)),
        ("c", fingerprint(HEADLINE, BODY)),
        ("d", fingerprint(STUB_LEADS[0], (LEGAL,))),
        ("e", fingerprint("Hinweis", (*BODY[2:], *OTHER[1]))),
        ("f", fingerprint(OTHER[0], OTHER[1][:1])),
    ]
    redis_index = RedisNearIndex(redis_client, layout)
    memory_index = InMemoryNearIndex(layout.window_seconds)
    from_redis = [await redis_index.check_and_insert(i, fp, now=NOW) for i, fp in stream]
    in_memory = [await memory_index.check_and_insert(i, fp, now=NOW) for i, fp in stream]
    assert [m and (m.article_id, m.kind) for m in from_redis] == [
        m and (m.article_id, m.kind) for m in in_memory
    ]
    assert [m and pytest.approx(m.containment) for m in from_redis] == [
        m and m.containment for m in in_memory
    ]


async def test_concurrent_copies_from_two_replicas_are_never_both_unique(
    redis_url: str, redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Two processes' clients racing with copies of one story: exactly one copy is unique."""
    replicas = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        for round_ in range(20):
            indexes = [RedisNearIndex(client, layout) for client in replicas]
            fps = [
                fingerprint(f"{HEADLINE} {round_}", BODY),
                fingerprint(f"Kurier - {HEADLINE} {round_}", BODY[:3]),
            ]
            results = await asyncio.gather(
                *(
                    index.check_and_insert(f"r{round_}-{n}", fp, now=NOW + round_)
                    for n, (index, fp) in enumerate(zip(indexes, fps, strict=True))
                )
            )
            assert sum(r is None for r in results) == 1
            await redis_client.flushdb()
    finally:
        for client in replicas:
            await client.aclose()


async def test_entries_expire_with_the_window(redis_client: aioredis.Redis, layout: RedisLayout) -> None:
    """After the window a copy no longer matches, and the keys carry a TTL."""
    index = RedisNearIndex(redis_client, layout)
    fp = fingerprint(HEADLINE, BODY)
    await index.check_and_insert("old", fp, now=NOW)
    assert await index.check_and_insert("copy", fp, now=NOW + 100) is not None
    assert await index.check_and_insert("late", fp, now=NOW + layout.window_seconds + 1) is None
    keys = await redis_client.keys(f"{layout.prefix}*")
    ttls = [await redis_client.ttl(k) for k in keys]
    assert ttls and all(t != -1 for t in ttls)


async def test_redelivered_unique_article_stays_unique(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Checking the same article id again does not call it a copy of itself."""
    index = RedisNearIndex(redis_client, layout)
    fp = fingerprint(HEADLINE, BODY)
    assert await index.check_and_insert("a", fp, now=NOW) is None
    assert await index.check_and_insert("a", fp, now=NOW + 1) is None


async def test_batch_gives_the_same_verdicts_in_order(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """The pipelined batch call judges items in order, each against the ones before it."""
    index = RedisNearIndex(redis_client, layout)
    results = await index.check_and_insert_many(
        [
            ("a", fingerprint(HEADLINE, BODY)),
            ("b", fingerprint(*OTHER)),
            ("c", fingerprint(HEADLINE, BODY[:2])),
        ],
        now=NOW,
    )
    assert [r and r.article_id for r in results] == [None, None, "a"]


async def test_outlet_template_is_learnt_in_redis(redis_client: aioredis.Redis, layout: RedisLayout) -> None:
    """With Redis sentence counts, the template of an outlet's unique articles stops making its
    stubs alike; counts are per outlet, and only articles counted make a sentence frequent."""
    template = (LEGAL, "Empfohlen: Wetterdienst warnt vor Sturmböen an der Küste am Wochenende.")
    detector = NearDuplicateDetector(
        RedisNearIndex(redis_client, layout),
        RedisSentenceFrequency(redis_client, layout),
        NO_BOILERPLATE,
    )
    pages = [(HEADLINE, (*BODY, *template)), ("Zweite Geschichte", (*story_sentences(31), *template))]
    pages += [(lead, template) for lead in STUB_LEADS]
    verdicts = [
        await detector.check(f"p{n}", headline, body, "Outlet A", now=NOW + n)
        for n, (headline, body) in enumerate(pages)
    ]
    assert verdicts == [None] * len(pages)
    frequency = RedisSentenceFrequency(redis_client, layout)
    keys = frozenset({1, 2, 3})
    await frequency.count("Outlet B", keys, now=NOW)
    assert await frequency.frequent("Outlet B", keys, now=NOW) == frozenset()
    await frequency.count("Outlet B", keys, now=NOW)
    assert await frequency.frequent("Outlet C", keys, now=NOW) == frozenset()
    assert await frequency.frequent("Outlet B", keys, now=NOW) == keys


async def test_sentence_counts_cover_one_to_two_windows(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Counts of the last window still count; older ones are forgotten."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    keys = frozenset({7, 8})
    window = layout.window_seconds
    start = (NOW // window) * window  # the start of a generation
    await frequency.count("Outlet B", keys, now=start)
    await frequency.count("Outlet B", keys, now=start + window)
    assert await frequency.frequent("Outlet B", keys, now=start + window + 1) == keys
    assert await frequency.frequent("Outlet B", keys, now=start + 2 * window) == frozenset()


async def test_detector_on_redis_judges_like_the_in_memory_one(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Index and sentence counts on Redis give the verdicts of their in-memory counterparts."""
    pages = [(f"s{n}", lead, (LEGAL,), "Outlet A") for n, lead in enumerate(STUB_LEADS)] + [
        ("b1", HEADLINE, BODY, "Outlet B"),
        ("b2", HEADLINE, BODY[:2], "Outlet C"),
        ("b3", HEADLINE, BODY[:3], "Outlet B"),
        ("b4", HEADLINE, BODY[1:], "Outlet B"),
    ]
    on_redis = NearDuplicateDetector(
        RedisNearIndex(redis_client, layout), RedisSentenceFrequency(redis_client, layout)
    )
    in_memory = NearDuplicateDetector(InMemoryNearIndex(), InMemorySentenceFrequency())
    expected = [await in_memory.check(*page, now=NOW) for page in pages]
    found = [await on_redis.check(*page, now=NOW) for page in pages]
    assert [m and m.article_id for m in found] == [m and m.article_id for m in expected]
    assert [m and m.article_id for m in found] == [None] * 5 + ["b1"] * 3


async def test_a_sentence_counted_often_stays_frequent(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A sentence counted 300 times is frequent, this window and the next (its count stops early
    and never spills into the other window's count)."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    keys = frozenset({5, 6})
    await frequency.count_many([("Outlet D", keys)] * 300, now=NOW)
    assert await frequency.frequent("Outlet D", keys, now=NOW) == keys
    assert await frequency.frequent("Outlet D", keys, now=NOW + layout.window_seconds) == keys


def test_settings_the_layout_cannot_name_are_refused() -> None:
    """Shards are named by 2 bytes and counts have 8 bits: larger settings are refused."""
    with pytest.raises(ValueError, match="shards"):
        RedisLayout(shards=65537)
    with pytest.raises(ValueError, match="min_articles"):
        RedisSentenceFrequency(aioredis.Redis(), min_articles=256)


def _distinct(n: int) -> tuple[str, Fingerprint]:
    """An article sharing no anchor, hash or id with any other; every other one too short for a
    shingle (so it is indexed by its exact hash)."""
    if n % 2:
        return f"art-{n}", Fingerprint(f"{n:032x}", bytes(128), 0, ())
    anchors = tuple(n * 16 + k for k in range(16))
    return f"art-{n}", Fingerprint(f"{n:032x}", bytes([n % 256]) * 128, 100, anchors)


async def _hashes(
    client: aioredis.Redis, layout: RedisLayout, kind: bytes
) -> dict[bytes, dict[bytes, bytes]]:
    """Every hash of one kind (``x:``, ``h:``, ``c:``) with its fields, ``_g`` left out."""
    found: dict[bytes, dict[bytes, bytes]] = {}
    async for key in client.scan_iter(match=layout.prefix.encode() + kind + b"*", count=1000):
        fields = cast("dict[bytes, bytes]", await client.hgetall(key))
        fields.pop(b"_g", None)
        found[key] = fields
    return found


async def _index_past_its_first_block(client: aioredis.Redis, layout: RedisLayout) -> RedisNearIndex:
    """An index that holds a whole record block of articles, then sees that block expire."""
    index = RedisNearIndex(client, layout)
    first_block = [_distinct(n) for n in range(RECORD_BLOCK)]
    for start in range(0, len(first_block), 256):
        await index.check_and_insert_many(first_block[start : start + 256], now=NOW)
    await client.delete(f"{layout.prefix}r:0")
    return index


async def test_every_8th_insert_sweeps_an_exact_hash(redis_client: aioredis.Redis) -> None:
    """Once the first record block has expired, the exact hashes (one swept every 8th insert) keep
    no field that points at its dead articles."""
    layout = RedisLayout(window_seconds=3600, shards=1)
    index = await _index_past_its_first_block(redis_client, layout)
    await index.check_and_insert_many([_distinct(n) for n in range(RECORD_BLOCK, RECORD_BLOCK + 48)], now=NOW)

    (hashes,) = (await _hashes(redis_client, layout, b"h:")).values()
    assert hashes and min(int(seq) for seq in hashes.values()) >= RECORD_BLOCK


def _copy(fp: Fingerprint) -> Fingerprint:
    """A near copy of ``fp``: the same sketch and anchors, another text."""
    return Fingerprint(f"{int(fp.content_hash, 16) ^ 1:032x}", fp.sketch, fp.size, fp.anchors)


async def _table(
    client: aioredis.Redis, layout: RedisLayout, generation: int, layer: int
) -> list[tuple[int, int]]:
    """An anchor table's layer as (anchor, seq) slots, the free ones left out."""
    raw = await client.get(f"{layout.prefix}a:{generation}:{layer}") or b""
    pairs = struct.iter_unpack("<II", raw)
    return [(anchor, seq) for anchor, seq in pairs if seq]


async def test_a_table_that_fills_chains_into_the_next_buckets_and_takes_another_layer(
    redis_client: aioredis.Redis,
) -> None:
    """Anchors whose bucket is full go to the next bucket with a free slot; a layer that holds
    TABLE_LOAD of its slots gets another, which new anchors go to and lookups read too; every
    article indexed is then found by a copy of it, and its anchors are in the tables once each."""
    layout = RedisLayout(window_seconds=3600, table_min_buckets=TABLE_LEAST_BUCKETS)
    index = RedisNearIndex(redis_client, layout)
    articles = [_distinct(2 * n) for n in range(12)]  # 16 anchors each
    for item in articles:
        assert await index.check_and_insert_many([item], now=NOW) == [None]

    gen = int(NOW) // layout.window_seconds
    sizes = [int(size) for size in (await redis_client.hget(f"{layout.prefix}meta", "az") or b"").split(b",")]
    assert len(sizes) >= 2 and sizes[0] == TABLE_LEAST_BUCKETS
    slots = [pair for layer in range(len(sizes)) for pair in await _table(redis_client, layout, gen, layer)]
    assert sorted(anchor for anchor, _ in slots) == sorted(a for _, fp in articles for a in fp.anchors)
    for article_id, fp in articles:
        match = await index.check_and_insert(f"copy-of-{article_id}", _copy(fp), now=NOW)
        assert match is not None and match.article_id == article_id


async def test_a_generations_table_is_sized_from_the_anchors_the_one_before_set(
    redis_client: aioredis.Redis,
) -> None:
    """The first table of a new index has the least size; the next generation's is sized for the
    anchors the generation before set (TABLE_LOAD of its slots), in one layer."""
    layout = RedisLayout(window_seconds=3600, table_min_buckets=TABLE_LEAST_BUCKETS)
    index = RedisNearIndex(redis_client, layout)
    start = (NOW // layout.window_seconds) * layout.window_seconds
    articles = [_distinct(2 * n) for n in range(12)]  # 16 anchors each
    await index.check_and_insert_many(articles, now=start + 10)
    meta = f"{layout.prefix}meta"
    assert int(await redis_client.hget(meta, "at") or 0) == 16 * len(articles)

    await index.check_and_insert(*_distinct(100), now=start + layout.window_seconds + 10)
    expected = math.ceil(16 * len(articles) / (TABLE_SLOTS * TABLE_LOAD))
    assert await redis_client.hget(meta, "az") == str(expected).encode()
    assert int(await redis_client.hget(meta, "at") or 0) == 16


async def test_anchors_of_one_article_that_share_a_bucket_take_a_slot_each(
    redis_client: aioredis.Redis,
) -> None:
    """Every anchor of an article may start its chain in one bucket: each takes a slot of its own
    (none overwrites another), and a copy sharing only the last of them finds the article."""
    layout = RedisLayout(window_seconds=3600, table_min_buckets=TABLE_LEAST_BUCKETS)
    index = RedisNearIndex(redis_client, layout)
    anchors = tuple(TABLE_LEAST_BUCKETS * (k + 1) for k in range(16))  # all in bucket 0
    first = Fingerprint("ab" * 16, bytes(range(128)), 100, anchors)
    assert await index.check_and_insert("first", first, now=NOW) is None

    gen = int(NOW) // layout.window_seconds
    assert sorted(await _table(redis_client, layout, gen, 0)) == [(anchor, 1) for anchor in anchors]
    copy = Fingerprint("cd" * 16, first.sketch, first.size, anchors[-1:])
    match = await index.check_and_insert("copy", copy, now=NOW)
    assert match is not None and match.article_id == "first"


async def test_an_anchor_chain_is_read_at_most_table_max_chain_buckets_long(
    redis_client: aioredis.Redis,
) -> None:
    """Anchors that all start their chain in one bucket (text made to collide) fill at most
    TABLE_MAX_CHAIN buckets from it; past that they are not indexed, so no script reads or
    walks further, and the articles whose anchors were kept are still found by their copies."""
    buckets = 4 * TABLE_MAX_CHAIN
    layout = RedisLayout(window_seconds=3600, table_min_buckets=buckets)
    index = RedisNearIndex(redis_client, layout)
    articles = [
        (
            f"art-{n}",
            Fingerprint(
                f"{n:032x}", bytes([n]) * 128, 100, tuple(buckets * (16 * n + k + 1) for k in range(16))
            ),
        )
        for n in range(TABLE_MAX_CHAIN // 2 + 4)  # two buckets of anchors each, all from bucket 0
    ]
    for item in articles:
        assert await index.check_and_insert_many([item], now=NOW) == [None]

    gen = int(NOW) // layout.window_seconds
    slots = await _table(redis_client, layout, gen, 0)
    assert len(slots) == TABLE_SLOTS * TABLE_MAX_CHAIN
    first_id, first = articles[0]
    match = await index.check_and_insert("copy", _copy(first), now=NOW)
    assert match is not None and match.article_id == first_id


async def test_a_table_is_read_for_a_window_and_freed_when_the_generation_after_the_next_begins(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """An article indexed late in a generation is found in the next one (from the last
    generation's table); that table is deleted when the generation after begins, and expires then
    should none begin."""
    index = RedisNearIndex(redis_client, layout)
    window = layout.window_seconds
    start = (NOW // window) * window
    gen = int(start) // window
    (first_id, first), (other_id, other) = _distinct(0), _distinct(2)
    assert await index.check_and_insert(first_id, first, now=start + window - 10) is None
    table = f"{layout.prefix}a:{gen}:0"
    assert abs(time.time() + await redis_client.ttl(table) - ((gen + 2) * window + 1)) <= 5

    match = await index.check_and_insert("copy", _copy(first), now=start + window + 100)
    assert match is not None and match.article_id == first_id
    assert await index.check_and_insert(other_id, other, now=start + window + 200) is None
    assert await redis_client.exists(table, f"{layout.prefix}a:{gen + 1}:0") == 2

    assert await index.check_and_insert("late", _copy(first), now=start + 2 * window + 5) is None
    assert not await redis_client.exists(table)
    assert await redis_client.exists(f"{layout.prefix}a:{gen + 1}:0")


async def test_an_index_of_version_4_keeps_finding_the_articles_in_its_anchor_hashes(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """An index whose anchors are in hashes (version 4) is read there as well for one window more:
    a copy of an article indexed before is found; its first table is sized for the live anchors."""
    first_id, first = _distinct(0)
    record = struct.pack("<III", int(NOW) - 60, first.size, 0) + bytes.fromhex(first.content_hash)[:8]
    await redis_client.hset(f"{layout.prefix}r:0", "1", record + first.sketch + first_id.encode())
    for anchor in first.anchors:
        shard = anchor % layout.shards
        await redis_client.hset(
            f"{layout.prefix}x:".encode() + shard_name(shard), struct.pack("<I", anchor), struct.pack("<I", 1)
        )
    meta = f"{layout.prefix}meta"
    await redis_client.hset(meta, "seq", 1)

    match = await RedisNearIndex(redis_client, layout).check_and_insert("copy", _copy(first), now=NOW)
    assert match is not None and match.article_id == first_id
    assert int(await redis_client.hget(meta, "xa") or 0) == int(NOW) + layout.window_seconds


async def test_the_sentence_count_hashes_split_and_keep_their_counts(redis_client: aioredis.Redis) -> None:
    """The sentence counts' hashes split as they fill; a sentence counted before the splits still
    has its count after them."""
    layout = RedisLayout(window_seconds=3600, shards=64, split_at=1)
    frequency = RedisSentenceFrequency(redis_client, layout)
    early = frozenset(range(500))
    await frequency.count_many([("Outlet S", early)] * 2, now=NOW)  # counted twice: frequent
    # Past COUNT_HASHES fields (split_at 1), then many scripts: each splits up to MAX_SPLITS hashes.
    # Each filler is counted twice: a sentence seen once has only its gate bit, no count field.
    fillers = [("Outlet F", frozenset(range(1000 * n, 1000 * n + 1000))) for n in range(1, 70)]
    fillers += [("Outlet G", frozenset({n})) for n in range(2000)]
    once = frozenset(range(100_000, 100_100))
    await frequency.count_many([*fillers, *fillers, ("Outlet H", once)], now=NOW)

    split = int(await redis_client.hget(f"{layout.prefix}meta", "cp") or 0)
    assert split >= 2000 * MAX_SPLITS // 2
    counts = await _hashes(redis_client, layout, b"c:")
    named_past_first = [key for key in counts if len(key) == len(f"{layout.prefix}c:") + 4]
    assert len(named_past_first) > split // 2  # the hashes split off (numbers past 65,535)
    assert await frequency.frequent("Outlet S", early, now=NOW) == early
    assert await frequency.frequent("Outlet H", once, now=NOW) == frozenset()


async def _shape(
    client: aioredis.Redis, layout: RedisLayout, level: str, split: str, base: int
) -> tuple[int, int]:
    raw = await client.hmget(f"{layout.prefix}meta", [level, split])
    return (base if raw[0] is None else int(raw[0])), int(raw[1] or 0)


async def test_the_sentence_count_hashes_merge_back_and_keep_their_counts(
    redis_client: aioredis.Redis,
) -> None:
    """Two generations after a burst of counts, the count hashes merge back to their first level
    (a few per script), and a sentence counted in the generation before still has its count."""
    layout = RedisLayout(window_seconds=3600, shards=64, split_at=1)
    frequency = RedisSentenceFrequency(redis_client, layout)
    burst = [("Outlet F", frozenset(range(1000 * n, 1000 * n + 1000))) for n in range(1, 70)]
    burst += [("Outlet G", frozenset({n})) for n in range(2000)]
    await frequency.count_many(burst * 2, now=NOW)  # seen twice: each has a count field
    early = frozenset(range(500))
    await frequency.count_many([("Outlet S", early)] * 2, now=NOW + layout.window_seconds)
    base = COUNT_HASHES.bit_length() - 1
    level, split = await _shape(redis_client, layout, "cl", "cp", base)
    grown = 2**level + split - COUNT_HASHES
    assert grown >= 2000 * MAX_SPLITS // 2

    quiet = NOW + 2 * layout.window_seconds  # the burst's counts are stale now
    await frequency.count_many(
        [("Outlet Q", frozenset({n})) for n in range(grown // MAX_SPLITS + 8)], now=quiet
    )

    assert await _shape(redis_client, layout, "cl", "cp", base) == (base, 0)
    counts = await _hashes(redis_client, layout, b"c:")
    assert all(len(key) == len(f"{layout.prefix}c:") + 2 for key in counts)  # none past 65,535
    assert await frequency.frequent("Outlet S", early, now=quiet) == early


async def _count_fields(
    client: aioredis.Redis, prefix: str, source: str, keys: frozenset[int]
) -> dict[int, int]:
    """The stored value of each (source, key)'s count field (absent ones left out)."""
    found = {}
    for field, key in sentence_fields(source, keys).items():
        packed = struct.pack("<I", field)
        value = await client.hget(prefix.encode() + b"c:" + packed[:2], packed[2:])
        if value is not None:
            found[key] = int(value)
    return found


async def test_a_count_holds_its_generation_modulo_128_and_reads_a_full_one_too(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A count's value holds its generation modulo 128 (small enough for Redis's 3-byte integers in
    a compact hash); a count that an earlier version wrote with the full generation number still
    counts."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    gen = int(NOW) // layout.window_seconds
    await frequency.count_many([("Outlet N", frozenset({1}))] * 2, now=NOW)  # the first: its gate bit
    assert await _count_fields(redis_client, layout.prefix, "Outlet N", frozenset({1})) == {
        1: (gen % 128) * 65536 + 1
    }

    (field,) = sentence_fields("Outlet O", [2])  # counted once last generation, the earlier way
    packed = struct.pack("<I", field)
    await redis_client.hset(layout.prefix.encode() + b"c:" + packed[:2], packed[2:], (gen - 1) * 65536 + 1)
    await frequency.count_many([("Outlet O", frozenset({2}))], now=NOW)
    assert await frequency.frequent("Outlet O", frozenset({2}), now=NOW) == frozenset({2})


async def test_stale_sentence_counts_are_swept_within_a_window(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Counts older than the two generations read are deleted by the clock-paced sweep within a
    window of going stale, though other articles keep their hashes busy; the last generation's
    counts stay and still count."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    window = layout.window_seconds
    start = (NOW // window) * window  # generation g
    old, live = frozenset(range(1000, 1400)), frozenset(range(2000, 2050))
    await frequency.count_many([("Outlet S", old)] * 2, now=start)
    await frequency.count_many([("Outlet S", live)] * 2, now=start + 2 * window)  # old is stale now
    assert len(await _count_fields(redis_client, layout.prefix, "Outlet S", old)) == len(old)

    # Other articles over the next window and a half: enough scripts to keep pace with the clock
    # (COUNT_HASHES sweeps a window, SWEEP_BATCH a script).
    per_step = COUNT_HASHES // SWEEP_BATCH // 8
    for step in range(1, 13):
        busy = [("Outlet T", frozenset({step * per_step + n})) for n in range(per_step)]
        await frequency.count_many(busy, now=start + 2 * window + step * window / 8)

    later = start + 3.5 * window  # generation g + 3
    assert await _count_fields(redis_client, layout.prefix, "Outlet S", old) == {}
    assert len(await _count_fields(redis_client, layout.prefix, "Outlet S", live)) == len(live)
    assert await frequency.frequent("Outlet S", live | old, now=later) == live


async def test_the_sweep_starts_where_the_index_starts(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A new index records where its sweep starts (now, the first hash) and sweeps nothing before
    any hash is due."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    await frequency.count("Outlet S", frozenset({1}), now=NOW)
    meta = f"{layout.prefix}meta"
    assert int(await redis_client.hget(meta, "cu") or 0) == int(NOW)
    assert await redis_client.hget(meta, "cc") is None
    assert await redis_client.ttl(meta) > 0


async def test_a_sweep_rounds_behind_goes_on_with_the_next_hash(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A sweep more than a round behind the clock (too few scripts) skips whole rounds only: it
    goes on with the hash next in turn, so no hash is left out."""
    window = layout.window_seconds
    start = (NOW // window) * window
    gen = int(start) // window
    meta = f"{layout.prefix}meta"
    await redis_client.hset(meta, mapping={"cu": int(start), "cc": 12_345})  # next in turn: 12,345
    now = start + 3 * window + 100  # more than three rounds due
    key = f"{layout.prefix}c:".encode() + shard_name(12_345)
    await redis_client.hset(key, b"st", (gen - 1) * 65536 + 2)  # stale at generation gen + 3

    await RedisSentenceFrequency(redis_client, layout).count("Outlet S", frozenset({1}), now=now)

    assert await redis_client.hexists(key, b"st") is False
    assert int(await redis_client.hget(meta, "cc") or 0) == 12_345 + SWEEP_BATCH
    # A round behind now, no more: the sweep goes on at SWEEP_BATCH a script.
    assert float(await redis_client.hget(meta, "cu") or 0) == pytest.approx(
        now - window + SWEEP_BATCH * window / COUNT_HASHES, abs=1e-3
    )


async def test_a_hash_ttl_is_renewed_once_per_generation(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """Writes in the generation a count hash was last renewed in leave its TTL alone; the first
    write of a later generation renews it (two windows past that generation)."""
    window = layout.window_seconds
    start = (NOW // window) * window
    frequency = RedisSentenceFrequency(redis_client, layout)
    keys = frozenset({7})
    (field,) = sentence_fields("Outlet R", keys)
    packed = struct.pack("<I", field)
    hash_key = layout.prefix.encode() + b"c:" + packed[:2]
    await frequency.count("Outlet R", keys, now=start + 5)  # seen once: its gate bit only
    await frequency.count("Outlet R", keys, now=start + 10)
    assert await redis_client.ttl(hash_key) > window  # renewed: at least two windows ahead
    await redis_client.expire(hash_key, 1000)
    await frequency.count("Outlet Q", keys, now=start + 20)  # another outlet, the same generation
    await frequency.count("Outlet R", keys, now=start + 30)
    assert 0 < await redis_client.ttl(hash_key) <= 1000
    await frequency.count("Outlet R", keys, now=start + window + 5)  # the next generation: its gate
    await frequency.count("Outlet R", keys, now=start + window + 10)
    assert await redis_client.ttl(hash_key) > 1000


async def test_a_sentence_seen_once_has_its_gate_bit_and_no_count(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A sentence an outlet carries once sets a bit of its generation's gate and writes no count
    field; the second article with it writes the count, and from the third on it is template. The
    gate expires two windows past its generation's start. Asking alone sets no bit."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    keys = frozenset(range(40))
    gen = int(NOW) // layout.window_seconds
    gate = f"{layout.prefix}b:{gen}:0"
    assert await frequency.frequent("Outlet S", keys, now=NOW) == frozenset()
    assert await redis_client.bitcount(gate) == 0  # asking sets nothing
    await frequency.count("Outlet S", keys, now=NOW)
    assert await _hashes(redis_client, layout, b"c:") == {}
    assert await redis_client.bitcount(gate) == len(keys)
    expires_at = (gen + 2) * layout.window_seconds + 1  # Redis 6.2 has no EXPIRETIME
    assert abs(time.time() + await redis_client.ttl(gate) - expires_at) <= 5
    assert await frequency.frequent("Outlet S", keys, now=NOW) == frozenset()

    await frequency.count("Outlet S", keys, now=NOW)
    assert len(await _count_fields(redis_client, layout.prefix, "Outlet S", keys)) == len(keys)
    assert await frequency.frequent("Outlet S", keys, now=NOW) == keys
    assert await frequency.frequent("Outlet T", keys, now=NOW) == frozenset()  # another outlet's


async def test_a_gate_is_sized_from_the_generation_before_and_grows_layers(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A generation that sets more bits than its gate was sized for adds a larger layer, at most
    LAYER_GROWTH times the last (here at the generation's very start, as a new wire's, whose pace
    tells nothing yet); the next generation's gate is sized from the bits the last one set, and
    reads the last one's layers: a sentence seen once in each generation counts twice."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    window = layout.window_seconds
    start = (NOW // window) * window
    meta = f"{layout.prefix}meta"
    filled = (GATE_MIN_BITS // GATE_BITS // 1000 + 2) * 1000  # past the first layer's share
    await frequency.count_many(
        [("Outlet F", frozenset(range(n, n + 1000))) for n in range(0, filled, 1000)], now=start
    )
    sizes, bits = await redis_client.hmget(meta, ["bz", "bt"])
    assert _sizes(sizes) == [GATE_MIN_BITS, LAYER_GROWTH * GATE_MIN_BITS]
    set_bits = int(bits)
    assert filled * 0.95 < set_bits <= filled  # a few bits were another sentence's already

    await frequency.count("Outlet S", frozenset({7}), now=start + window - 1)  # in the second layer
    await frequency.count("Outlet S", frozenset({7}), now=start + window + 1)  # the next generation
    sizes, last = await redis_client.hmget(meta, ["bz", "lz"])
    wanted = (set_bits + 1) * GATE_BITS
    step = 2 ** (wanted.bit_length() - 3)  # to three significant bits
    assert _sizes(sizes) == [-(-wanted // step) * step]
    assert _sizes(last) == [GATE_MIN_BITS, LAYER_GROWTH * GATE_MIN_BITS]
    assert await frequency.frequent("Outlet S", frozenset({7}), now=start + window + 2) == {7}


async def test_a_gate_outgrown_late_adds_a_layer_for_the_rest_of_its_generation(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A generation that outgrows its gate half-way through adds a layer sized for the bits still to
    come at its pace so far (GATE_HEADROOM to spare), not LAYER_GROWTH times the last: a wire a
    little busier than in the generation before, or one started part-way through it, does not take
    a gate several times the size it needs."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    window = layout.window_seconds
    start = (NOW // window) * window
    meta = f"{layout.prefix}meta"
    await frequency.count("Outlet F", frozenset({0}), now=start)  # the gate begins with the generation
    filled = (GATE_MIN_BITS // GATE_BITS // 1000 + 2) * 1000  # past the first layer's share
    await frequency.count_many(
        [("Outlet F", frozenset(range(n, n + 1000))) for n in range(1, filled, 1000)],
        now=start + window // 2,
    )
    sizes = _sizes(await redis_client.hget(meta, "bz"))
    # Half the generation to come: about as many bits as the first layer's share (~GATE_MIN_BITS /
    # GATE_BITS), with GATE_HEADROOM, rounded up to three significant bits.
    assert len(sizes) == 2
    assert GATE_MIN_BITS < sizes[1] <= 2 * GATE_MIN_BITS < LAYER_GROWTH * GATE_MIN_BITS
    fresh = frozenset({filled + 5})  # its bit in the new layer
    for _ in range(2):
        await frequency.count("Outlet F", fresh, now=start + window // 2)
    assert await frequency.frequent("Outlet F", fresh, now=start + window // 2) == fresh


async def test_a_gate_kept_as_before_is_read_and_carried_as_it_is(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A gate whose meta is as versions before kept it (its first layer's size and how many layers,
    each LAYER_GROWTH times the one before) is read and set in its last layer until its generation
    ends, is then read as the last one, and freed with all its layers when the next begins."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    window = layout.window_seconds
    start = (NOW // window) * window
    gen = int(start) // window
    meta = f"{layout.prefix}meta"
    await redis_client.hset(meta, mapping={"bg": gen, "bm": GATE_MIN_BITS, "bk": 2, "bn": 0, "bt": 0})
    keys = frozenset({3})
    await frequency.count("Outlet K", keys, now=start + 1)
    assert await redis_client.bitcount(f"{layout.prefix}b:{gen}:1") == 1  # its last layer, 4x the first
    assert not await redis_client.exists(f"{layout.prefix}b:{gen}:0")

    await frequency.count("Outlet K", frozenset({4}), now=start + window + 1)  # the next generation
    assert _sizes(await redis_client.hget(meta, "lz")) == [GATE_MIN_BITS, LAYER_GROWTH * GATE_MIN_BITS]
    await frequency.count("Outlet K", keys, now=start + window + 2)  # seen in the last one: counted
    assert await frequency.frequent("Outlet K", keys, now=start + window + 3) == keys

    await frequency.count("Outlet K", frozenset({5}), now=start + 2 * window + 1)
    assert not await redis_client.exists(f"{layout.prefix}b:{gen}:1")


def _sizes(listed: bytes | None) -> list[int]:
    """A gate's layers' sizes, as {p}meta lists them."""
    return [int(size) for size in (listed or b"").split(b",") if size]


async def test_a_lagging_clock_does_not_take_the_gates_back(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """A replica whose clock is a little behind, across a generation's start, counts in the newer
    generation's gate: the gates' generation never goes back."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    window = layout.window_seconds
    boundary = (NOW // window + 1) * window
    await frequency.count("Outlet S", frozenset({1}), now=boundary + 1)
    await frequency.count("Outlet S", frozenset({2}), now=boundary - 1)  # the lagging replica
    gen = int(boundary) // window
    assert int(await redis_client.hget(f"{layout.prefix}meta", "bg") or 0) == gen
    assert await redis_client.bitcount(f"{layout.prefix}b:{gen}:0") == 2
    assert not await redis_client.exists(f"{layout.prefix}b:{gen - 1}:0")


async def test_counts_written_before_the_gates_are_read_until_they_are_stale(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """In an index that counted before it had gates, every count is read whatever the gates say for
    two generations from its first gate (those counts hold first articles, for which no gate bit
    is set), so an outlet's template stays its template across the upgrade; after that a sentence
    without a gate bit is not looked up."""
    window = layout.window_seconds
    start = (NOW // window) * window
    gen = int(start) // window
    await redis_client.hset(f"{layout.prefix}meta", "cg", gen)  # it counted before the gates
    (field,) = sentence_fields("Outlet O", [5])
    packed = struct.pack("<I", field)
    key = layout.prefix.encode() + b"c:" + packed[:2]
    await redis_client.hset(key, packed[2:], (gen % 128) * 65536 + 2)  # in two articles: template
    frequency = RedisSentenceFrequency(redis_client, layout)
    await frequency.count("Outlet P", frozenset({9}), now=start + 1)  # the first gate
    assert await frequency.frequent("Outlet O", frozenset({5}), now=start + 2) == {5}

    later = start + 2 * window + 1
    await frequency.count("Outlet P", frozenset({9}), now=later)
    await redis_client.hset(key, packed[2:], ((gen + 2) % 128) * 65536 + 2)  # as if written so then
    assert await frequency.frequent("Outlet O", frozenset({5}), now=later) == frozenset()


async def test_a_gate_two_generations_back_is_freed_when_the_next_begins(
    redis_client: aioredis.Redis, layout: RedisLayout
) -> None:
    """When a generation's gate begins, the one two generations back (read as the last one until
    then) is deleted, not left for Redis's expiry to find."""
    frequency = RedisSentenceFrequency(redis_client, layout)
    window = layout.window_seconds
    start = (NOW // window) * window
    gen = int(start) // window
    for step in range(3):
        await frequency.count("Outlet S", frozenset({step}), now=start + step * window + 1)
    assert not await redis_client.exists(f"{layout.prefix}b:{gen}:0")
    assert await redis_client.exists(f"{layout.prefix}b:{gen + 1}:0", f"{layout.prefix}b:{gen + 2}:0") == 2
