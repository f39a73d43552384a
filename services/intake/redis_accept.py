"""Accept an article in one Redis round trip: idempotency, the stream entry and the status record.

``Intake`` (submission.py) takes three or four round trips per article: claim the key, publish,
record the status, complete the claim, because the sink, status and idempotency stores are
separate parts (in-memory in tests). Against Redis one Lua script does all of it atomically:
it decides with the same rules as the claim script (``DECIDE_LUA``), and when the decision is to
publish, it adds the entry to ``articles.received``, writes the status with the status store's own
rules (``shared.status``), and marks the key done. Being atomic, it needs no pending state or
lease of its own; it still honours a pending record left by a multi-step ``Intake`` replica.

The entry is FastStream's binary envelope, encoded by FastStream itself, so the stage consumers
read it exactly as they read what a FastStream publisher writes.

Articles that arrive together share a round trip: the script calls of one event-loop tick go
to Redis as one pipeline (one socket write and read for all of them), which is what makes a
burst cheap; a lone article is sent at once, on the next tick.

The entry's body names the article's id and version, which are known before the script runs
except when the key already belongs to an article (a new version, or taking over a pending one).
Then the script writes nothing and answers ``retarget`` with the id and version to use; the
caller encodes the article again under them and runs the script once more (rare: only a guid
resubmitted with changed content pays a second round trip).

In a Redis Cluster the script touches three slots (stream, status, key record): it needs the
keys under one hash tag there, or a split into per-key steps (see docs/scaling.md).
"""

from __future__ import annotations

from uuid import uuid4

import redis.asyncio as aioredis
from fast_depends.pydantic import PydanticSerializer
from faststream.redis.message import DATA_KEY
from faststream.redis.parser.binary import BinaryMessageFormatV1

from services.intake.idempotency import DECIDE_LUA, Claim, IdempotencyKey, RedisIdempotencyStore
from services.intake.submission import (
    Accepted,
    SubmissionConflictError,
    content_fingerprint,
    store_call,
)
from shared.messages import ARTICLES_RECEIVED, Article, ArticleReceived
from shared.ninjs import to_ninjs
from shared.scripts import ScriptBatcher
from shared.stage import ARTICLE_ID_HEADER
from shared.status import RECORD_SCRIPT, StatusUpdate, article_key, record_args

RECEIVED = "received"
_SERIALIZER = PydanticSerializer(use_fastdepends_errors=False)  # what a FastStream publisher uses
MAX_RETARGETS = 3  # a key that changes hands this often in a row is being fought over: 409

# KEYS[1] the stream, KEYS[2] the article's status record, KEYS[3] the key's record (absent: no key).
# ARGV[1] the article id and ARGV[2] the version the envelope ARGV[3] carries; ARGV[4] fingerprint,
# ARGV[5] key ttl ms, ARGV[6] versioned (1/0); ARGV[7..] the status script's ARGV.
# Returns {outcome, id, version}; outcome 'retarget' means: nothing written, encode for id/version.
_ACCEPT_SCRIPT = (
    DECIDE_LUA
    + "local function record_status(KEYS, ARGV)\n"
    + RECORD_SCRIPT
    + """
end
local outcome = 'new'
if KEYS[3] then
  local id, version, change
  outcome, id, version, change = decide(KEYS[3], ARGV[1], ARGV[4], now_ms(), ARGV[6])
  if change == nil then
    return {outcome, id, version}
  end
  if id ~= ARGV[1] or version ~= tonumber(ARGV[2]) then
    return {'retarget', id, version}
  end
  redis.call('HSET', KEYS[3], 'id', id, 'version', version, 'fp', ARGV[4], 'state', 'done', 'lease', 0)
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
redis.call('XADD', KEYS[1], '*', '"""
    + DATA_KEY
    + """', ARGV[3])
record_status({KEYS[2]}, {unpack(ARGV, 7)})
return {outcome, ARGV[1], tonumber(ARGV[2])}
"""
)


async def envelope(article: Article) -> bytes:
    """The ``articles.received`` entry of ``article`` as a FastStream publisher would write it."""
    return await BinaryMessageFormatV1.encode(
        message=ArticleReceived(article=article),
        reply_to=None,
        headers={ARTICLE_ID_HEADER: article.id},
        correlation_id=str(uuid4()),
        serializer=_SERIALIZER,
    )


def _status_args(article: Article, ttl_ms: int) -> list[str | int]:
    """ARGV of the status script for ``received``, as the status store writes it."""
    update = StatusUpdate.reached(article.id, RECEIVED, document=to_ninjs(article), version=article.version)
    return record_args(update, ttl_ms)


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisIntake:
    """``Intake``'s contract (accept, published_fingerprint) in one round trip per article."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        article_ttl_s: float,
        timeout_s: float = 2.0,
        stream: str = ARTICLES_RECEIVED,
    ) -> None:
        self._ttl_ms = int(article_ttl_s * 1000)
        self._timeout_s = timeout_s
        self._stream = stream
        self._script = ScriptBatcher(client, _ACCEPT_SCRIPT)
        self._records = RedisIdempotencyStore(client, article_ttl_s)

    async def accept(
        self, article: Article, key: IdempotencyKey | None = None, fingerprint: str | None = None
    ) -> Accepted:
        """Publish ``article`` once per key and content; raises StoreUnavailableError or
        SubmissionConflictError. ``fingerprint`` defaults to the article's content."""
        key_args: list[str | int] = []
        keys = [self._stream, ""]
        if key is not None:
            fingerprint = fingerprint or content_fingerprint(article)
            key_args = [fingerprint, self._ttl_ms, "1" if key.versioned else "0"]
            keys.append(key.redis_key)
        async with store_call(self._timeout_s):
            for _ in range(MAX_RETARGETS):
                keys[1] = article_key(article.id)
                args: list[str | int | bytes] = [article.id, article.version, await envelope(article)]
                args += key_args or ["", 0, "0"]
                args += _status_args(article, self._ttl_ms)
                raw_outcome, raw_id, raw_version = await self._script(keys=keys, args=args)
                outcome, found_id, version = _text(raw_outcome), _text(raw_id), int(raw_version)
                if outcome != "retarget":
                    break
                article = article.model_copy(update={"id": found_id, "version": version})
            else:
                outcome = "in_progress"
        if outcome in ("new", "version", "duplicate"):
            return Accepted(found_id, version, outcome)  # type: ignore[arg-type]  # narrowed above
        raise SubmissionConflictError(Claim(outcome, found_id, version))  # type: ignore[arg-type]  # in_progress or mismatch

    async def published_fingerprint(self, key: IdempotencyKey) -> str | None:
        """The fingerprint last published under ``key`` (None: never, or still in flight)."""
        async with store_call(self._timeout_s):
            return await self._records.fingerprint(key)
