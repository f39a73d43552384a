"""Subscription delivery against a real Redis: streams once per article, webhooks signed and
retried, 410 disabling, dead letters and replay, with a webhook receiver on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis.asyncio as aioredis
from standardwebhooks.webhooks import Webhook

from services.ops import dlq
from services.pusher.catalog import SubscriptionCatalog
from services.pusher.delivery import RedisSubscriberStreams
from services.pusher.service import push
from services.pusher.signing import generate_secret
from services.pusher.webhooks import WebhookDispatcher
from services.replay import ReplayError, replay
from shared.messages import ArticleDeduplicated
from shared.metrics import StageMetrics
from shared.settings import Settings
from shared.subscriptions import Filter, RedisSubscriptionStore, Subscription, WebhookSecret, webhook_keys
from tests import factories

pytestmark = pytest.mark.integration


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


@dataclass
class Receiver:
    """A webhook endpoint on loopback; ``answer(path, n)`` gives the status of the n-th request."""

    answer: Callable[[str, int], int] = lambda path, n: 200
    requests: dict[str, list[Received]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def got(self, path: str) -> list[Received]:
        with self.lock:
            return list(self.requests.get(path, []))

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                arrived = time.time()
                with receiver.lock:
                    seen = receiver.requests.setdefault(self.path, [])
                    count = len(seen) + 1
                status = receiver.answer(self.path, count)
                with receiver.lock:
                    seen.append(Received(dict(self.headers.items()), body, arrived, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def verified(secret: str, requests: list[Received]) -> list[dict]:
    """Every request's payload, each verified with the official library (raises if one fails)."""
    return [Webhook(secret).verify(r.body, r.headers) for r in requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def _judged(article_id: str, **tags: object) -> ArticleDeduplicated:
    return ArticleDeduplicated(
        article=factories.article(article_id),
        tags=factories.tags(**tags),
        verdict=factories.verdict(story_id=article_id),
    )


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "redis_url": "redis://unused",
        "webhook_allow_hosts": ("127.0.0.1",),
        "webhook_retry_schedule_s": (0.2, 0.2, 0.2),
        "poll_interval_ms": 50,
    }
    values.update(overrides)
    return Settings.model_validate(values)


async def _wait(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_matching_articles_reach_the_subscription_stream_once(redis_client: aioredis.Redis) -> None:
    """A subscription created while the pusher runs gets the next matching article, once, even when
    the message is retried; a non-matching article and a deleted subscription's stream get nothing.
    The pusher's metrics count each subscription's deliveries once."""
    store = RedisSubscriptionStore(redis_client)
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    catalog = SubscriptionCatalog(store)
    metrics = StageMetrics("pusher")
    await push(_judged("before"), streams, catalog, metrics)
    kz = Subscription(name="kz", filter=Filter.model_validate({"any": {"entities": ["iso3166:KZ"]}}))
    gone = Subscription(name="gone")
    assert await store.create(kz) and await store.create(gone)
    for _ in range(2):  # a redelivered message adds nothing
        await push(_judged("a1"), streams, catalog, metrics)
    await push(_judged("a2", entities=(), topics=("sport",)), streams, catalog, metrics)
    await store.delete("gone")
    await push(_judged("a3"), streams, catalog, metrics)
    ids = [fields[b"id"] for _, fields in await redis_client.xrange("newswire:sub:kz")]
    assert ids == [b"a1", b"a3"]
    deliveries = "newswire_subscription_deliveries_total"
    assert metrics.registry.get_sample_value(deliveries, {"subscription": "kz"}) == 2
    assert metrics.registry.get_sample_value(deliveries, {"subscription": "gone"}) == 2  # a1, a2
    (_, fields), *_ = await redis_client.xrange("newswire:sub:kz")
    assert set(fields) == {b"id", b"event", b"topic", b"article"} and fields[b"topic"] == b"kz"
    assert json.loads(fields[b"article"])["uri"] == "urn:newswire:article:a1"
    assert not await redis_client.exists("newswire:sub:gone")
    assert [f[b"id"] for _, f in await redis_client.xrange("newswire:topic:all")] == [
        b"before",
        b"a1",
        b"a2",
        b"a3",
    ]


async def _webhook_subscription(
    client: aioredis.Redis, name: str, url: str, **filter_json: object
) -> tuple[RedisSubscriptionStore, str]:
    store = RedisSubscriptionStore(client)
    secret = generate_secret()
    sub = Subscription(
        name=name, filter=Filter.model_validate(filter_json), delivery={"kind": "webhook", "url": url}
    )
    assert await store.create(sub, WebhookSecret(value=secret))
    return store, secret


async def test_webhook_retries_until_success_with_one_stable_id(
    redis_client: aioredis.Redis, receiver: Receiver
) -> None:
    """Two 500s then a 200: three attempts of one delivery, all with the same webhook-id, every
    signature verifies, and the articles keep their published order on a healthy endpoint."""
    receiver.answer = lambda path, n: 500 if path == "/flaky" and n <= 2 else 200
    store, secret = await _webhook_subscription(redis_client, "flaky", receiver.url("/flaky"))
    _, secret2 = await _webhook_subscription(redis_client, "healthy", receiver.url("/healthy"))
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    catalog = SubscriptionCatalog(store)
    metrics = StageMetrics("pusher")
    dispatcher = WebhookDispatcher(redis_client, store, _settings(), "test-consumer", metrics=metrics)
    await dispatcher.start()
    try:
        for n in range(5):
            await push(_judged(f"p{n}"), streams, catalog)
        await _wait(lambda: len(receiver.requests.get("/healthy", [])) == 5)
        await _wait(lambda: len(receiver.requests.get("/flaky", [])) >= 7)
        await asyncio.sleep(0.5)  # anything extra would arrive now
    finally:
        await dispatcher.stop()
    flaky = receiver.requests["/flaky"]
    assert len(flaky) == 7
    succeeded = sorted(r.headers["webhook-id"] for r in flaky[2:])  # the receiver failed only two
    assert succeeded == [f"msg_flaky_p{n}" for n in range(5)]
    payloads = verified(secret, flaky)
    assert {p["data"]["uri"] for p in payloads} == {f"urn:newswire:article:p{n}" for n in range(5)}
    healthy = verified(secret2, receiver.requests["/healthy"])
    assert [p["data"]["uri"][-2:] for p in healthy] == ["p0", "p1", "p2", "p3", "p4"]
    assert all(p["type"] == "article.published" for p in healthy)
    assert await redis_client.zcard(webhook_keys("flaky")["retries"]) == 0

    def attempts(subscription: str, outcome: str) -> float | None:
        labels = {"subscription": subscription, "outcome": outcome}
        return metrics.registry.get_sample_value("newswire_webhook_attempts_total", labels)

    assert (attempts("flaky", "failure"), attempts("flaky", "success")) == (2.0, 5.0)
    assert (attempts("healthy", "failure"), attempts("healthy", "success")) == (None, 5.0)


async def test_410_disables_the_endpoint_and_replay_enables_and_resends(
    redis_client: aioredis.Redis, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A 410 disables the endpoint (state in Redis); nothing more is sent until a replay, which
    re-enables it and delivers what was waiting, with the same webhook-ids."""
    receiver.answer = lambda path, n: 410 if n == 1 else 200
    store, secret = await _webhook_subscription(redis_client, "gone", receiver.url("/gone"))
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    catalog = SubscriptionCatalog(store)
    dispatcher = WebhookDispatcher(redis_client, store, _settings(), "test-consumer")
    await dispatcher.start()
    try:
        await push(_judged("g0"), streams, catalog)
        await _wait(lambda: len(receiver.requests.get("/gone", [])) == 1)
        await asyncio.sleep(0.3)
        assert await redis_client.hget(webhook_keys("gone")["endpoint"], "disabled_reason") is not None
        await push(_judged("g1"), streams, catalog)
        await asyncio.sleep(1.0)
        assert len(receiver.requests["/gone"]) == 1  # disabled: nothing sent
        assert await replay(redis_client, "gone", since=0) == 2
        await _wait(lambda: len(receiver.requests["/gone"]) >= 3)
    finally:
        await dispatcher.stop()
    ids = [r.headers["webhook-id"] for r in receiver.requests["/gone"]]
    assert ids[0] == "msg_gone_g0" and sorted(set(ids[1:])) == ["msg_gone_g0", "msg_gone_g1"]
    verified(secret, receiver.requests["/gone"])


class NoRepublish:
    """A webhook letter must never be published again to a stream (it would be a second entry)."""

    async def publish(self, payload: bytes, stream: str, article_id: str) -> None:
        raise AssertionError(f"republished to {stream}")


@pytest.mark.parametrize("via", ["replay --entry", "dlq replay"])
async def test_exhausted_delivery_is_dead_lettered_and_replayed_by_entry(
    redis_client: aioredis.Redis, receiver: Receiver, via: str
) -> None:
    """After the last scheduled attempt the delivery lands in newswire:dlq:webhooks with its entry
    id; `replay --entry` that id, or `dlq replay webhooks` the letter (found by `dlq list
    --subscription`), sends it again once the endpoint works, without a second stream entry."""
    healthy = threading.Event()
    receiver.answer = lambda path, n: 200 if healthy.is_set() else 503
    store, secret = await _webhook_subscription(redis_client, "dead", receiver.url("/dead"))
    streams = RedisSubscriberStreams(redis_client, retention_seconds=3600, marker_seconds=3600)
    dispatcher = WebhookDispatcher(redis_client, store, _settings(webhook_retry_schedule_s=(0.1, 0.1)), "c")
    await dispatcher.start()
    try:
        await push(_judged("d0"), streams, SubscriptionCatalog(store))
        await _wait(lambda: len(receiver.requests.get("/dead", [])) == 3)
        await asyncio.sleep(0.3)
        letters = await redis_client.xrange("newswire:dlq:webhooks")
        assert len(letters) == 1 and len(receiver.requests["/dead"]) == 3
        letter = letters[0][1]
        assert letter[b"stream"] == b"newswire:sub:dead" and letter[b"deliveries"] == b"3"
        assert letter[b"error"] == b"HTTP 503"
        healthy.set()
        if via == "replay --entry":
            assert await replay(redis_client, "dead", entry_ids=[letter[b"entry_id"].decode()]) == 1
        else:
            listed = await dlq.list_letters(redis_client, "webhooks", subscription="dead")
            assert [found.entry_id for found in listed] == [letter[b"entry_id"].decode()]
            assert await dlq.list_letters(redis_client, "webhooks", subscription="other") == []
            await dlq.replay(redis_client, NoRepublish(), "webhooks", [listed[0].dlq_id])
            assert await redis_client.xlen("newswire:dlq:webhooks") == 0
        await _wait(lambda: len(receiver.requests["/dead"]) == 4)
    finally:
        await dispatcher.stop()
    assert await redis_client.xlen("newswire:sub:dead") == 1
    assert {p["data"]["uri"] for p in verified(secret, receiver.requests["/dead"])} == {
        "urn:newswire:article:d0"
    }
    with pytest.raises(ReplayError, match="no entry"):
        await replay(redis_client, "dead", entry_ids=["1-0"])
