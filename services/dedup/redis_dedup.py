"""The dedup stage on Redis in one round trip: one script per article judges and records.

Per article one EVALSHA (the service pipelines a read batch's scripts in one round trip:
``judge_many``), which in one atomic step

1. returns the recorded verdict if this (article id, version) was judged already (a redelivery);
2. checks that the outlet's learnt template sentences are exactly the ones the fingerprint left
   out (else it answers with the right set, and the article is fingerprinted and sent again; the
   articles after it that may copy it, in its round trip or in a later batch's sent before its
   reply came back, wait, unjudged, for the next one, so that a story's first article is still
   the first read);
3. checks the index and inserts the article when it copies no live one;
4. decides the verdict with the rule of ``services.dedup.verdict.decide`` (the outlet of a story's
   first article is in its index record);
5. counts the article's sentences for its outlet when it is the outlet's first article in its
   story (a unique article, or the outlet's first copy of another outlet's story);
6. records the member in its story (the layout ``RedisStoryStore`` reads).

Which sentences are an outlet's template changes rarely, so each process keeps the last answer
per outlet (``TemplateCache``) and the second round trip of step 2 only happens when an outlet's
template changed. Being one script, the verdict and the story record can no longer disagree
across replicas: the story's first article is recorded in the same step as its index entry.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from services.dedup.fingerprint import (
    DEFAULT_BOILERPLATE,
    BoilerplateFilter,
    PreparedText,
    article_boilerplate,
    fingerprint_prepared,
    prepare,
)
from services.dedup.near import (
    DEFAULT_THRESHOLDS,
    MAX_BUCKET,
    MAX_CANDIDATES,
    MIN_SOURCE_ARTICLES,
    Thresholds,
    outlet_of,
)
from services.dedup.redis_near import (
    _COMMON,
    _INDEX,
    _INDEX_ARGS,
    _SENTENCES,
    RedisLayout,
    index_args,
    index_config,
    lua_locals,
    outlet_tag,
    pack_uint32,
    sentence_fields,
    text_of,
    unpack_uint32,
    valid_min_articles,
)
from services.dedup.stories import STORY_KEY_PREFIX, STORY_OF_KEY_PREFIX, StoryMember
from services.dedup.verdict import recorded_verdict
from shared.messages import ArticleDeduplicated, ArticleTagged, Verdict, VerdictStatus
from shared.scripts import InOrder, ScriptChannel, Turn

# How often an article is fingerprinted again because the outlet's template changed meanwhile
# (other replicas count at the same time): past this the message fails and is retried later.
MAX_ATTEMPTS = 4
# How long a round's record of the articles it held back lives: far longer than a round trip (only
# the scripts of its own round read it), short enough to leave no litter behind.
HELD_MS = 60_000
# The script's replies by their first element (see below).
REPLY_KINDS = {0: "recorded", 1: "judged", 2: "sent_back", 3: "held"}

# Configuration: lua_locals(index_config(...), min_articles, story_prefix, story_of_prefix,
# story_ttl). ARGV: now, article_id, content_hash, hash_shard, sketch, size, outlet tag, anchors
# (as _INDEX_ARGS), version, member JSON before and after the verdict, the number of
# left-out sentence fields, the sentence fields (left-out ones first; 4 bytes each), the round's
# name (unique: it names the round's record of the articles held back, step 0).
# Replies: {0, story, member JSON} recorded already; {2, fields...} the template is these fields;
#          {3} not judged: it may copy an article sent back earlier in the round;
#          {1, status, story, kind, jaccard, containment} judged now.
_JUDGE = (
    _INDEX_ARGS
    + """
local version = tonumber(ARGV[9])
local member_head = ARGV[10]
local member_tail = ARGV[11]
local left_out = tonumber(ARGV[12])
local story_of_key = story_of_prefix .. article_id

-- 0. An article sent back earlier in this round (step 2) is judged in the next round. This one
-- waits for it when it may copy it (it shares an anchor or its content hash with it, as any copy
-- does), so that a story's first article is the first one read; other stories go on. The keys of
-- the articles held back so far are the fields of the round's hash.
local held_key = p .. 'held:' .. ARGV[14]
local own_keys = {content_hash}
for _, anchor in ipairs(anchors) do own_keys[#own_keys + 1] = anchor end
local function hold()  -- a copy of this article, later in the round, waits as well
  local values = {}
  for _, key in ipairs(own_keys) do
    values[#values + 1] = key
    values[#values + 1] = '1'
  end
  redis.call('HSET', held_key, unpack(values))
  redis.call('PEXPIRE', held_key, 'HELD_MS')
end
if redis.call('EXISTS', held_key) == 1 then  -- most rounds hold nothing back
  for _, found in ipairs(redis.call('HMGET', held_key, unpack(own_keys))) do
    if found then
      hold()
      return {3}
    end
  end
end

-- 1. A redelivered message: the verdict recorded the first time.
local member_field = article_id .. ':' .. version
local previous_story = redis.call('GET', story_of_key)
if previous_story then
  local recorded = redis.call('HGET', story_prefix .. previous_story, member_field)
  if recorded then return {0, previous_story, recorded} end
end
"""
    + _COMMON
    + _SENTENCES
    + """
-- 2. The fingerprint must leave out exactly the outlet's template sentences (the first
-- left_out fields), else the caller fingerprints again with the template this returns.
local fields = fields_of(ARGV[13])
local template = frequent(fields)
local agrees = #template == left_out
if agrees then
  for _, f in ipairs(template) do
    local position = 0
    for i = 1, left_out do
      if fields[i] == f then position = i end
    end
    if position == 0 then agrees = false end
  end
end
if not agrees then
  forget()
  hold()
  table.insert(template, 1, 2)
  return template
end
"""
    + _INDEX
    + """
-- 3. The index.
local match = find()
if match == 'self' then match = nil elseif not match then insert() end

-- 4. The verdict: the rule of services.dedup.verdict.decide.
local status, story, kind, jaccard, containment = 'unique', article_id, '', '', ''
if match then story, kind, jaccard, containment = match[1], match[2], match[3], match[4] end
if version > 1 then
  status = 'update'
  if previous_story then story = previous_story end
elseif match then
  status = 'duplicate'
  if kind == 'near' and outlet ~= 0 and outlet == match[5] then status = 'update' end
end

-- 5. An outlet learns its template from its articles of different stories: this article's
-- sentences count if it is the outlet's first article in its story (field 'o:<outlet tag>').
local story_key = story_prefix .. story
if outlet ~= 0 and redis.call('HSETNX', story_key, 'o:' .. ARGV[7], '1') == 1 then
  count(fields)
else
  forget()  -- (frequent set its sentences' gate bits)
end
-- Stale sentence counts go a few hashes at a time, as the clock makes their sweep due.
sweep_counts()

-- 6. The story record (the first record of a member wins, as in RedisStoryStore.add).
redis.call('HSETNX', story_key, member_field, member_head .. status .. member_tail)
redis.call('EXPIRE', story_key, int(story_ttl))
redis.call('SET', story_of_key, story, 'EX', int(story_ttl))
save_meta()
return {1, status, story, kind, jaccard, containment}
"""
).replace("HELD_MS", str(HELD_MS))


class TemplateCache:
    """Per outlet, the sentence keys last confirmed as its template (bounded: forgets when full)."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self.max_keys = max_keys
        self._keys: dict[str, frozenset[int]] = {}
        self._size = 0

    def get(self, outlet: str) -> frozenset[int]:
        return self._keys.get(outlet, frozenset())

    def learn(self, outlet: str, asked: Iterable[int], template: frozenset[int]) -> None:
        """What the index said about the keys ``asked``: ``template`` are template, the rest not."""
        before = self._keys.get(outlet, frozenset())
        after = (before - frozenset(asked)) | template
        if self._size + len(after) - len(before) > self.max_keys:
            self._keys.clear()
            self._size = 0
            before = frozenset()
        self._keys[outlet] = after
        self._size += len(after) - len(before)


def _member_json(article_id: str, version: int, source: str | None) -> tuple[str, str]:
    """A story member's JSON (as ``StoryMember.to_json`` writes it) around its verdict, which the
    script fills in."""
    head = (
        f'{{"article_id": {json.dumps(article_id, ensure_ascii=False)}, "version": {version}, '
        f'"source": {json.dumps(source, ensure_ascii=False)}, "verdict": "'
    )
    return head, f'", "at": {time.time()!r}}}'


class RedisDeduplicator:
    """Judges a tagged article with one script call against the shared Redis (see module doc)."""

    def __init__(
        self,
        client: aioredis.Redis,
        layout: RedisLayout | None = None,
        *,
        boilerplate: BoilerplateFilter = DEFAULT_BOILERPLATE,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        min_articles: int = MIN_SOURCE_ARTICLES,
        on_reply: Callable[[str], None] | None = None,
    ) -> None:
        """``on_reply`` is told the kind of each script reply (``REPLY_KINDS``): a metric."""
        self.client = client
        self.layout = layout or RedisLayout()
        self.boilerplate = boilerplate
        self.templates = TemplateCache()
        self.replies: Counter[str] = Counter()  # script calls by the kind of their reply
        self._on_reply = on_reply
        self._in_order = InOrder()  # calls, in the order made: over one after the other
        self._sends = InOrder()  # their first rounds, sent one after the other
        self._held_name = ""  # of the record of what is held back, that calls' first rounds share
        self._sharing_held = False  # whether the next first round may share it
        layout = self.layout
        config = lua_locals(
            **index_config(layout, thresholds, MAX_BUCKET, MAX_CANDIDATES),
            min_articles=valid_min_articles(min_articles),
            story_prefix=STORY_KEY_PREFIX,
            story_of_prefix=STORY_OF_KEY_PREFIX,
            story_ttl=layout.window_seconds,
        )
        self._channel = ScriptChannel(client, config + _JUDGE)

    def _prepare(self, event: ArticleTagged, now: float | None) -> _Pending:
        article = event.article
        outlet = outlet_of(article)
        text = prepare(article.headline, article.body)
        boilerplate = article_boilerplate(article, self.boilerplate)
        fields = sentence_fields(outlet, text.learnable_keys()) if outlet else {}
        head, tail = _member_json(article.id, article.version, outlet)
        return _Pending(
            event, outlet, text, boilerplate, fields, int(time.time() if now is None else now), head, tail
        )

    def _template_of(self, pending: _Pending) -> frozenset[int]:
        """The sentences of the article that this process knows as its outlet's template."""
        if not pending.outlet:
            return frozenset()
        return self.templates.get(pending.outlet) & frozenset(pending.fields.values())

    def _call(self, pending: _Pending) -> list[Any]:
        """The article's script arguments but the name of the round's record of what is held
        back (fingerprinted again only if its template changed since its last call)."""
        template = self._template_of(pending)
        if pending.args is None or template != pending.template:
            pending.template = template
            pending.args = self._args(pending)
        return pending.args

    def _args(self, pending: _Pending) -> list[str | bytes | int]:
        template, fields = pending.template, pending.fields
        boilerplate = pending.boilerplate.with_keys(template) if template else pending.boilerplate
        fp = fingerprint_prepared(pending.text, boilerplate)
        if template:
            left_out = [f for f, key in fields.items() if key in template]
            others = [f for f, key in fields.items() if key not in template]
        else:  # most articles: the outlet has no template (yet), or it is not in this article
            left_out, others = [], list(fields)
        article = pending.event.article
        return [
            pending.moment,
            *index_args(self.layout, article.id, fp, outlet_tag(pending.outlet)),
            article.version,
            pending.member_head,
            pending.member_tail,
            len(left_out),
            pack_uint32(left_out + others),
        ]

    @property
    def attempts(self) -> int:
        """Script calls made (for the speed figures)."""
        return sum(self.replies.values())

    def _replied(self, reply: list[Any] | Exception) -> None:
        kind = "error" if isinstance(reply, Exception) else REPLY_KINDS[reply[0]]
        self.replies[kind] += 1
        if self._on_reply is not None:
            self._on_reply(kind)

    def _settle(self, pending: _Pending, reply: list[Any]) -> ArticleDeduplicated | None:
        """The judged article, or None when it is to be sent again: its outlet's template changed
        (the cache now has it), or it may copy an article sent back earlier in the round trip."""
        article = pending.event.article
        if reply[0] == 3:
            return None
        if reply[0] == 2:
            pending.sent_back += 1
            template = frozenset(pending.fields[unpack_uint32(f)[0]] for f in reply[1:])
            if pending.outlet:
                self.templates.learn(pending.outlet, pending.fields.values(), template)
            return None
        if reply[0] == 0:
            verdict = recorded_verdict(text_of(reply[1]), StoryMember.from_json(reply[2]))
        else:
            status: VerdictStatus = text_of(reply[1])  # type: ignore[assignment]  # the script's statuses
            story = text_of(reply[2])
            verdict = Verdict(
                status=status, story_id=story, duplicate_of=story if status == "duplicate" else None
            )
        return ArticleDeduplicated(article=article, tags=pending.event.tags, verdict=verdict)

    async def judge(self, event: ArticleTagged, *, now: float | None = None) -> ArticleDeduplicated:
        """The verdict on ``event``'s article, recorded in its story."""
        (judged,) = await self.judge_many([event], now=now)
        if isinstance(judged, Exception):
            raise judged
        return judged

    async def judge_many(
        self, events: Sequence[ArticleTagged], *, now: float | None = None
    ) -> list[ArticleDeduplicated | Exception]:
        """``judge`` for a read batch: the scripts in one round trip, in order (each one atomic).
        When an article's outlet template had changed, the script sends it back, and the articles
        after it that may copy it (sharing an anchor or the content hash) are held back: one more
        round trip judges them, in order, the article first, fingerprinted with the template
        learnt. An article sent back ``MAX_ATTEMPTS`` times, or that fails, gets its exception.

        Concurrent calls (a process's readers) are judged in the order they were made, so the first
        copy of a story read is its first article. Their first round trips go out in that order on
        one connection (``ScriptChannel``), each as soon as its fingerprints are ready, without
        waiting for the replies of the one before: Redis runs them in the order sent, and is not
        left idle while this process reads a round's replies and sends the next. That is safe while
        no round before it holds anything back: rounds sent one after the other share the name of
        their record of the articles held back (``held:<name>``), so a copy in a later round of an
        article sent back in an earlier one is held back too, by the script. Once a reply says an
        article was sent back or held, the calls after it wait, as every round after a call's first
        does, until the calls before them are over, and begin a new record of their own (a round
        sent again must not find its own articles in it). Fingerprinting does not wait: it overlaps
        the round trips of the calls before."""
        turn = self._in_order.take()  # before any await: the order the calls were made
        sending = self._sends.take()
        try:
            results = await self._judge_in_turn(events, now, turn, sending)
        finally:
            sending.end()
            turn.end()
        # A call whose rounds wait for this one to be over sends now, before our caller builds this
        # batch's outputs.
        await turn.hand_over()
        return results

    async def _judge_in_turn(
        self, events: Sequence[ArticleTagged], now: float | None, turn: Turn, sending: Turn
    ) -> list[ArticleDeduplicated | Exception]:
        results: list[ArticleDeduplicated | Exception] = [RuntimeError("not judged")] * len(events)
        waiting: list[tuple[int, _Pending]] = []
        for n, event in enumerate(events):
            try:
                waiting.append((n, self._prepare(event, now)))
            except Exception as error:  # bad data in one article fails that article alone
                results[n] = error
        first, reloaded = True, False
        # Ends: in each round after the first, the first article waiting is judged, fails or is
        # sent back once more (nothing was held back before it); a script unknown to Redis is
        # loaded and its calls sent again once.
        while waiting:
            sent = self._calls(waiting, results)
            replies = await (await self._send(sent, turn, sending if first else None))
            first = False
            waiting, unknown = self._round(sent, replies, results, retry_unknown=not reloaded)
            if unknown:
                await self._channel.load()
                reloaded = True
            for n, pending in waiting:
                if pending.sent_back >= MAX_ATTEMPTS:
                    results[n] = RuntimeError(
                        f"the template of outlet {pending.outlet!r} kept changing while judging "
                        f"{pending.event.article.id}"
                    )
            waiting = [(n, pending) for n, pending in waiting if pending.sent_back < MAX_ATTEMPTS]
        return results

    async def _send(
        self, sent: list[tuple[int, _Pending, list[Any]]], turn: Turn, sending: Turn | None
    ) -> Awaitable[list[Any]]:
        """Sends a round in its turn; returns the awaitable of its replies. ``sending``: the call's
        first round, which goes out once the calls before it have sent theirs, and, while no
        reply has held anything back since the last record began, in the same record of what is
        held back. Other rounds go out once the calls before are over, in a record of their own."""
        if sending is not None:
            await sending.wait()
        if sending is None or not self._sharing_held:
            await turn.wait()
            self._held_name = secrets.token_hex(8)
            # The calls after a first round sent so may share its record; after a round sent again
            # they may not: the calls between may have articles held back in the earlier record.
            self._sharing_held = sending is not None
        name = self._held_name
        try:
            return await self._channel.send([([self.layout.prefix], [*args, name]) for _, _, args in sent])
        finally:
            if sending is not None:
                sending.end()

    def _calls(
        self, waiting: list[tuple[int, _Pending]], results: list[ArticleDeduplicated | Exception]
    ) -> list[tuple[int, _Pending, list[Any]]]:
        """The script arguments of these articles (their fingerprints: the CPU-heavy part)."""
        sent: list[tuple[int, _Pending, list[Any]]] = []
        for n, pending in waiting:
            try:
                sent.append((n, pending, self._call(pending)))
            except Exception as error:
                results[n] = error
        return sent

    def _round(
        self,
        sent: list[tuple[int, _Pending, list[Any]]],
        replies: list[Any],
        results: list[ArticleDeduplicated | Exception],
        *,
        retry_unknown: bool,
    ) -> tuple[list[tuple[int, _Pending]], bool]:
        """A round's replies: its articles' results, those to send again, and whether Redis did not
        know the script (``retry_unknown``: those calls are to be sent again, else they failed)."""
        again: list[tuple[int, _Pending]] = []
        unknown_script = False
        for (n, pending, _), reply in zip(sent, replies, strict=True):
            if isinstance(reply, NoScriptError) and retry_unknown:  # nothing of it ran
                unknown_script = True
                again.append((n, pending))
                continue
            self._replied(reply)
            try:
                if isinstance(reply, Exception):
                    raise reply
                judged = self._settle(pending, reply)
            except Exception as error:
                results[n] = error
                continue
            if judged is None:
                again.append((n, pending))
            else:
                results[n] = judged
        if again:
            # What this round held back may be in the record the calls after it share.
            self._sharing_held = False
        return again, unknown_script


@dataclass(slots=True)
class _Pending:
    """An article on its way through the script: what its calls need."""

    event: ArticleTagged
    outlet: str | None
    text: PreparedText
    boilerplate: BoilerplateFilter
    fields: dict[int, int]
    moment: int
    member_head: str
    member_tail: str
    template: frozenset[int] = frozenset()  # of its last call
    args: list[str | bytes | int] | None = None  # of its last call, but the round's name
    sent_back: int = 0  # times the script found its outlet's template changed
