"""Intake's one-round-trip accept against a real Redis: the same rules as the multi-step path."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
import redis.asyncio as aioredis
from faststream.redis.parser.binary import BinaryMessageFormatV1

from services.intake.app import create_app
from services.intake.idempotency import IdempotencyKey, RedisIdempotencyStore
from services.intake.redis_accept import RedisIntake
from services.intake.submission import SubmissionConflictError
from shared.messages import ARTICLES_RECEIVED, Article, ArticleReceived
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER
from shared.status import RedisStatusStore

pytestmark = pytest.mark.integration

GUID = IdempotencyKey.for_guid("wire-1", "Example Wire")


def article(article_id: str, body: str = "Body.") -> Article:
    return Article(
        id=article_id, received_at=datetime.now(UTC), format="json", headline="Headline", body=(body,)
    )


async def entries(client: aioredis.Redis) -> list[tuple[ArticleReceived, dict[str, object]]]:
    """The events on ``articles.received``, decoded as the stage consumers decode them."""
    decoded = []
    for _, fields in await client.xrange(ARTICLES_RECEIVED):
        body, headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        decoded.append((ArticleReceived.model_validate_json(body), headers))
    return decoded


async def test_a_new_article_is_one_entry_a_status_and_a_done_key(redis_client: aioredis.Redis) -> None:
    """Accepted: one FastStream entry naming the article, its status ``received`` with the ninjs
    document, and the key's fingerprint published."""
    intake = RedisIntake(redis_client, article_ttl_s=60)
    accepted = await intake.accept(article("01A"), GUID, fingerprint="fp1")
    assert (accepted.article_id, accepted.version, accepted.outcome) == ("01A", 1, "new")
    [(event, headers)] = await entries(redis_client)
    assert event.article.id == "01A" and headers[ARTICLE_ID_HEADER] == "01A"
    assert headers["content-type"] == "application/json"
    status = await RedisStatusStore(redis_client, 60).get("01A")
    assert status is not None and status.status == "received"
    assert status.document is not None and status.document["headlines"][0]["value"] == "Headline"
    assert await intake.published_fingerprint(GUID) == "fp1"
    assert 0 < await redis_client.ttl(GUID.redis_key) <= 60


async def test_duplicate_version_and_mismatch_follow_the_claim_rules(redis_client: aioredis.Redis) -> None:
    """Same content again: the first id, nothing written; changed content under a guid: the same
    id as version 2 (its entry carries id and version 2); an Idempotency-Key reused: a conflict."""
    intake = RedisIntake(redis_client, article_ttl_s=60)
    await intake.accept(article("01A"), GUID, fingerprint="fp1")
    again = await intake.accept(article("01B"), GUID, fingerprint="fp1")
    assert (again.article_id, again.version, again.outcome) == ("01A", 1, "duplicate")
    changed = await intake.accept(article("01C", "Changed."), GUID, fingerprint="fp2")
    assert (changed.article_id, changed.version, changed.outcome) == ("01A", 2, "version")
    events = [event.article for event, _ in await entries(redis_client)]
    assert [(a.id, a.version, a.body) for a in events] == [("01A", 1, ("Body.",)), ("01A", 2, ("Changed.",))]
    status = await RedisStatusStore(redis_client, 60).get("01A")
    assert status is not None and status.fields["version"] == "2"

    header = IdempotencyKey.for_header("upload-1", "key:abc")
    await intake.accept(article("01D"), header, fingerprint="fp1")
    with pytest.raises(SubmissionConflictError) as conflict:
        await intake.accept(article("01E"), header, fingerprint="fp9")
    assert (conflict.value.claim.outcome, conflict.value.claim.article_id) == ("mismatch", "01D")


async def test_a_pending_claim_of_the_multi_step_path_is_honoured(redis_client: aioredis.Redis) -> None:
    """A key another replica holds under a live lease is in progress; once its lease ran out the
    article is published under that replica's id."""
    claimed = await RedisIdempotencyStore(redis_client, 60, lease_seconds=0.2).claim(GUID, "01P", "fp1")
    intake = RedisIntake(redis_client, article_ttl_s=60)
    with pytest.raises(SubmissionConflictError) as conflict:
        await intake.accept(article("01Q"), GUID, fingerprint="fp1")
    assert conflict.value.claim.outcome == "in_progress"
    await asyncio.sleep(0.3)
    taken = await intake.accept(article("01R"), GUID, fingerprint="fp1")
    assert (taken.article_id, taken.version, taken.outcome) == (claimed.article_id, 1, "new")
    assert [event.article.id for event, _ in await entries(redis_client)] == ["01P"]


async def test_concurrent_submissions_of_one_key_write_one_entry(redis_client: aioredis.Redis) -> None:
    """Twenty simultaneous submissions of one guid (two instances, like two replicas): one entry,
    every answer names its id, all but one are duplicates."""
    intakes = [RedisIntake(redis_client, article_ttl_s=60), RedisIntake(redis_client, article_ttl_s=60)]
    answers = await asyncio.gather(
        *(intakes[i % 2].accept(article(f"01X{i:02}"), GUID, fingerprint="fp") for i in range(20))
    )
    [(event, _)] = await entries(redis_client)
    assert {answer.article_id for answer in answers} == {event.article.id}
    assert sorted(answer.outcome for answer in answers) == ["duplicate"] * 19 + ["new"]


async def test_without_a_key_every_submission_is_published(redis_client: aioredis.Redis) -> None:
    """No guid and no Idempotency-Key: each submission is its own article."""
    intake = RedisIntake(redis_client, article_ttl_s=60)
    for article_id in ("01A", "01B"):
        assert (await intake.accept(article(article_id))).outcome == "new"
    assert [event.article.id for event, _ in await entries(redis_client)] == ["01A", "01B"]


async def test_a_flushed_script_cache_is_refilled(redis_client: aioredis.Redis) -> None:
    """After Redis lost its scripts (a restart), the next submission loads the script again."""
    intake = RedisIntake(redis_client, article_ttl_s=60)
    await intake.accept(article("01A"))
    await redis_client.script_flush()
    assert (await intake.accept(article("01B"))).outcome == "new"
    assert len(await entries(redis_client)) == 2


async def test_the_app_on_redis_accepts_and_reports_in_one_path(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """The service as deployed (nothing injected): POST answers 202, the entry is on the stream,
    GET reads the status; a resubmitted guid is a duplicate submission."""
    app = create_app(Settings(redis_url=redis_url))
    item = {"headline": "H", "body": "B", "guid": "g-1", "source": "s"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as http:
        posted = await http.post("/v1/articles", json=item)
        repeated = await http.post("/v1/articles", json=item)
        read = await http.get(f"/v1/articles/{posted.json()['id']}")
    assert posted.status_code == 202 and repeated.json()["duplicate_submission"] is True
    assert read.json()["status"] == "received"
    assert [event.article.id for event, _ in await entries(redis_client)] == [posted.json()["id"]]
