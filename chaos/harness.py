"""The stack under test (devstack's, with a private Redis), load, and a subscriber.

Everything runs on loopback. The stack's supervisor restarts a service process that exits, as
``newswire up`` or compose would, so "recovers by itself" means: with a supervisor, no human.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis as redis_py

from chaos.http_load import Answer, offer, post_request
from chaos.ledger import Ledger
from devstack import Stack, environ_without_settings
from shared.messages import topic_stream

SUBSCRIBER_GROUP = "chaos-subscriber"
ALL_STREAM = topic_stream("all")
# Words for made-up stories: random draws share no 5-word shingle, so no two are near-duplicates.
WORDS = [
    "Regierung",
    "Bericht",
    "Stadt",
    "Land",
    "Markt",
    "Preis",
    "Wahl",
    "Gericht",
    "Urteil",
    "Polizei",
    "Schule",
    "Klima",
    "Energie",
    "Bahn",
    "Hafen",
    "Rat",
    "Minister",
    "Kanzlerin",
    "Partei",
    "Verband",
    "Firma",
    "Werk",
    "Strom",
    "Gas",
    "Wasser",
    "Brücke",
    "Straße",
    "Hilfe",
    "Plan",
    "Gesetz",
    "Streit",
    "Einigung",
    "Zahl",
    "Woche",
    "Monat",
    "Jahr",
    "Sommer",
    "Winter",
    "Region",
    "Bund",
    "Kreis",
    "Dorf",
    "Bürger",
    "Zeit",
    "neue",
    "alte",
    "große",
    "kleine",
    "schnelle",
    "späte",
    "frühe",
    "starke",
    "schwache",
    "erste",
    "letzte",
    "weitere",
    "hohe",
    "tiefe",
    "sagt",
    "meldet",
    "plant",
    "prüft",
    "fordert",
    "lehnt",
    "stimmt",
    "baut",
    "öffnet",
    "schließt",
    "steigt",
    "sinkt",
    "wächst",
    "fällt",
    "heute",
    "gestern",
    "morgen",
    "abends",
    "wieder",
    "bereits",
    "noch",
    "kaum",
    "fast",
    "rund",
    "etwa",
    "mehr",
    "weniger",
    "viele",
    "wenige",
]


def story(key: str, rng: random.Random) -> dict[str, object]:
    """A made-up article no other one resembles, with ``key`` as its guid."""
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(45)) + "." for _ in range(3)]
    headline = f"{' '.join(rng.choice(WORDS) for _ in range(6)).capitalize()} ({key})"
    return {"headline": headline, "body": paragraphs, "guid": f"chaos:{key}", "source": "chaos"}


CHAOS_SETTINGS = {
    "NEWSWIRE_CLAIM_IDLE_MS": "3000",  # a stopped or killed consumer's entries are claimed within seconds
    "NEWSWIRE_DELIVERY_CAP": "3",
    "NEWSWIRE_POLL_INTERVAL_MS": "100",
}


def fault_stack(
    workdir: Path, settings: dict[str, str] | None = None, replicas: dict[str, int] | None = None
) -> Stack:
    """The four services on an embedded Redis of their own, supervised; the shell's ``NEWSWIRE_*``
    settings do not leak in, the fault's ``settings`` go over CHAOS_SETTINGS. Not started yet."""
    return Stack(
        None,
        workdir,
        settings={**CHAOS_SETTINGS, **(settings or {})},
        base_env=environ_without_settings(),
        replicas=replicas or {},
        supervise=True,
    )


class Subscriber:
    """Reads ``newswire:topic:all`` with a consumer group, as an outside subscriber would."""

    def __init__(self, cluster: Stack, ledger: Ledger) -> None:
        self._cluster = cluster
        self._ledger = ledger
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="subscriber", daemon=True)

    def start(self) -> Subscriber:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)

    def _run(self) -> None:
        client: redis_py.Redis | None = None
        while not self._stopping.is_set():
            try:
                if client is None:
                    client = self._cluster.client()
                    with contextlib.suppress(redis_py.ResponseError):  # BUSYGROUP: it exists
                        client.xgroup_create(ALL_STREAM, SUBSCRIBER_GROUP, id="0", mkstream=True)
                # Own pending first (entries read before an outage cut the answer off), then new ones.
                for start in ("0", ">"):
                    answer: Any = client.xreadgroup(
                        SUBSCRIBER_GROUP, "chaos", {ALL_STREAM: start}, count=500, block=200
                    )
                    for _, entries in answer or ():
                        for entry_id, fields in entries:
                            self._ledger.received(fields[b"id"].decode(), entry_id.decode())
                        if entries:
                            client.xack(ALL_STREAM, SUBSCRIBER_GROUP, *(entry_id for entry_id, _ in entries))
            except (redis_py.RedisError, OSError):
                client = None
                time.sleep(0.2)


class Load:
    """Posts made-up stories to intake from a thread pool and records every answer in the ledger."""

    def __init__(self, cluster: Stack, ledger: Ledger, *, seed: int = 7, workers: int = 16) -> None:
        self._cluster = cluster
        self._ledger = ledger
        self._rng = random.Random(seed)  # noqa: S311 (made-up text, not cryptography)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load")
        self._local = threading.local()
        self._counter = 0

    def _http(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=30)
            self._local.client = client
        return client

    def next_key(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}-{self._counter}"

    def submit(self, key: str, item: dict[str, object]) -> int:
        """POST one item; the HTTP status (0 when there was no answer)."""
        self._ledger.attempted(key)
        try:
            response = self._http().post(
                f"{self._cluster.base_url}/v1/articles", json=item, headers={"Idempotency-Key": key}
            )
        except httpx.HTTPError:
            self._ledger.answered(key, 0)
            return 0
        article_id = response.json().get("id") if response.status_code == 202 else None
        self._ledger.answered(key, response.status_code, article_id)
        return response.status_code

    def new_story(self, prefix: str) -> tuple[str, dict[str, object]]:
        key = self.next_key(prefix)
        with self._lock:
            item = story(key, self._rng)
        return key, item

    def run(self, count: int, seconds: float, prefix: str = "load") -> None:
        """``count`` new stories spread over ``seconds``, posted concurrently; waits for the answers."""
        interval = seconds / max(count, 1)
        started = time.monotonic()
        futures = []
        for index in range(count):
            key, item = self.new_story(prefix)
            delay = started + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(self._pool.submit(self.submit, key, item))
        for future in futures:
            future.result()

    def fire(self, count: int, seconds: float, prefix: str = "burst", connections: int = 128) -> None:
        """``count`` new stories over ``seconds`` through the lean asyncio client (a thread pool of
        httpx clients cannot offer 1,000 requests/s on 2 cores); every answer goes to the ledger.
        More connections than intake's submission bound, so a burst beyond it meets the bound."""
        stories = [self.new_story(prefix) for _ in range(count)]
        host, port = "127.0.0.1", self._cluster.http_port
        requests = [
            post_request(host, port, "/v1/articles", json.dumps(item).encode(), {"Idempotency-Key": key})
            for key, item in stories
        ]
        for key, _ in stories:
            self._ledger.attempted(key)

        def answered(index: int, answer: Answer) -> None:
            article_id = answer.body.get("id") if answer.status == 202 and answer.body else None
            self._ledger.answered(stories[index][0], answer.status, str(article_id) if article_id else None)

        asyncio.run(offer(host, port, requests, seconds=seconds, connections=connections, on_answer=answered))

    def start(self, count: int, seconds: float, prefix: str = "load") -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(count, seconds, prefix), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._pool.shutdown(wait=True)
