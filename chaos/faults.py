"""The faults: each runs on a fresh cluster under load, then drains and reads the ledger.

A fault passes when lost and duplicated are 0 (and its own check holds: 503 while Redis is down,
a dead letter for the poison, only designed answers in the burst).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.harness import Load, Subscriber, fault_stack
from chaos.ledger import Ledger, LedgerFigures
from devstack import Stack
from shared.messages import ARTICLES_RECEIVED, Article, ArticleReceived, dead_letter_stream
from shared.settings import Settings
from shared.stage import ARTICLE_ID_HEADER, make_broker
from shared.status import article_key

LOAD_ARTICLES = 200
LOAD_SECONDS = 8.0
RECOVERY_TIMEOUT_S = 120.0


@dataclass
class FaultResult:
    name: str
    figures: LedgerFigures
    recovery_s: float | None
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.figures.lost == 0
            and self.figures.duplicated == 0
            and self.figures.unexpected == 0
            and all(self.checks.values())
        )


@dataclass
class Run:
    """One fault's cluster, ledger, subscriber and load generator."""

    cluster: Stack
    ledger: Ledger
    load: Load
    subscriber: Subscriber
    articles: int = LOAD_ARTICLES
    seconds: float = LOAD_SECONDS

    def recovery(self, since: float, timeout: float = RECOVERY_TIMEOUT_S) -> float | None:
        """Seconds from ``since`` until a story posted after the fault reaches the subscriber."""
        probes: list[str] = []
        while time.monotonic() - since < timeout:
            key, item = self.load.new_story("probe")
            if self.load.submit(key, item) == 202:
                probes.append(key)
            for _ in range(20):
                delivered = self.ledger.delivered_keys()
                if any(delivered[probe] for probe in probes):
                    return time.monotonic() - since
                time.sleep(0.1)
        return None

    def drain(self, timeout: float) -> None:
        """Wait until every accepted story reached the subscriber (or the timeout)."""
        deadline = time.monotonic() + timeout
        while self.ledger.missing() and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(1.0)  # anything that would arrive twice arrives now


Fault = Callable[[Run], FaultResult]


def with_run(
    name: str,
    workdir: Path,
    body: Callable[[Run], tuple[float | None, dict[str, bool], list[str]]],
    *,
    settings: dict[str, str] | None = None,
    replicas: dict[str, int] | None = None,
    drain_s: float = 90.0,
    articles: int = LOAD_ARTICLES,
    seconds: float = LOAD_SECONDS,
) -> FaultResult:
    folder = "".join(char if char.isalnum() else "-" for char in name)
    cluster = fault_stack(workdir / folder, settings, replicas).start()
    ledger = Ledger()
    load = Load(cluster, ledger)
    subscriber = Subscriber(cluster, ledger)
    try:
        cluster.wait_ready()
        subscriber.start()
        run = Run(cluster, ledger, load, subscriber, articles, seconds)
        recovery, checks, notes = body(run)
        run.drain(drain_s + len(ledger.accepted) / 50)
        figures = ledger.figures()
    finally:
        subscriber.stop()
        load.close()
        codes = cluster.stop()
    unclean = {label: code for label, code in codes.items() if code not in (0, None)}
    if unclean:
        notes.append(f"exit codes on stop: {unclean}")
    return FaultResult(name, figures, recovery, checks, notes)


def _under_load(run: Run, inject: Callable[[Run], float]) -> float | None:
    """The run's load; the fault in the middle of it; the recovery time after the fault ends."""
    loading = run.load.start(run.articles, run.seconds)
    time.sleep(run.seconds / 2)
    ended = inject(run)
    recovery = run.recovery(ended)
    loading.join()
    return recovery


def kill_service(service: str) -> Callable[..., FaultResult]:
    def fault(workdir: Path, **load: Any) -> FaultResult:
        def body(run: Run) -> tuple[float | None, dict[str, bool], list[str]]:
            def inject(run: Run) -> float:
                run.cluster.kill(service)
                return time.monotonic()

            recovery = _under_load(run, inject)
            restarted = run.cluster.services[service].restarts >= 1
            return recovery, {"restarted by the supervisor": restarted}, []

        return with_run(f"kill -9 {service}", workdir, body, **load)

    return fault


def redis_outage(how: str) -> Callable[..., FaultResult]:
    """Redis stopped cleanly (``stop``) or killed (``kill``), down 3 s, restarted on its AOF."""

    def fault(workdir: Path, **load: Any) -> FaultResult:
        answers_while_down: list[int] = []

        def body(run: Run) -> tuple[float | None, dict[str, bool], list[str]]:
            def inject(run: Run) -> float:
                assert run.cluster.redis is not None
                if how == "kill":
                    run.cluster.redis.kill()
                else:
                    run.cluster.redis.stop()
                time.sleep(0.5)
                for _ in range(3):
                    key, item = run.load.new_story("down")
                    answers_while_down.append(run.load.submit(key, item))
                    time.sleep(0.5)
                run.cluster.redis.start()
                return time.monotonic()

            recovery = _under_load(run, inject)
            checks = {"intake answered 503 while Redis was down": set(answers_while_down) == {503}}
            notes = [f"answers while down: {answers_while_down}"]
            restarts = {label: s.restarts for label, s in run.cluster.services.items() if s.restarts}
            if restarts:
                notes.append(f"restarted by the supervisor: {restarts}")
            return recovery, checks, notes

        name = "Redis kill -9 + restart" if how == "kill" else "Redis stop + restart"
        return with_run(name, workdir, body, **load)

    return fault


def sigstop_consumer(workdir: Path, **load: Any) -> FaultResult:
    """One of two tagger replicas SIGSTOPped past the claim idle time, then SIGCONTed."""

    def body(run: Run) -> tuple[float | None, dict[str, bool], list[str]]:
        def inject(run: Run) -> float:
            replica = run.cluster.services["tagger#1"]
            replica.signal(signal.SIGSTOP)
            time.sleep(8.0)  # claim idle is 3 s
            replica.signal(signal.SIGCONT)
            return time.monotonic()

        recovery = _under_load(run, inject)
        client = run.cluster.client()
        pending = client.xpending("articles.received", "tagger")["pending"]
        claimed = _claimed_by(run.cluster.services["tagger"].log_path)
        checks = {"the stopped replica's entries were claimed by the other": claimed > 0}
        notes = [f"entries claimed by the live replica: {claimed}; pending after SIGCONT: {pending}"]
        return recovery, checks, notes

    return with_run("SIGSTOP tagger replica 8 s", workdir, body, replicas={"tagger": 2}, **load)


def same_article(workdir: Path, **load: Any) -> FaultResult:
    """One story posted 10 times at once, then again after every service was restarted."""

    def body(run: Run) -> tuple[float | None, dict[str, bool], list[str]]:
        key, item = run.load.new_story("same")
        threads = [threading.Thread(target=run.load.submit, args=(key, item)) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        run.drain(30)
        for service in run.cluster.services.values():
            service.signal(signal.SIGTERM)  # the supervisor starts each again
        time.sleep(3)
        run.cluster.wait_ready()
        answer = run.load.submit(key, item)
        recovery = run.recovery(time.monotonic())
        deliveries = run.ledger.delivered_keys()[key]
        notes = [f"answers: {dict(run.ledger.answers)}; after restart: {answer}; deliveries: {deliveries}"]
        return recovery, {"delivered exactly once": deliveries == 1}, notes

    return with_run("same story 10x concurrently + after restart", workdir, body, **load)


def poison(workdir: Path, **load: Any) -> FaultResult:
    """An article whose status record has the wrong Redis type: every stage write raises."""
    poison_id = "01POISON0000000000000000AA"

    def body(run: Run) -> tuple[float | None, dict[str, bool], list[str]]:
        client = run.cluster.client()

        def inject(run: Run) -> float:
            client.delete(article_key(poison_id))
            client.rpush(article_key(poison_id), "not a hash")  # HSET on it: WRONGTYPE
            article = Article(
                id=poison_id, received_at=datetime.now(UTC), format="json",
                headline="Poison", body=("It makes every status write raise.",),
            )  # fmt: skip
            run.ledger.injected.add(poison_id)
            asyncio.run(_publish(run.cluster, ArticleReceived(article=article), poison_id))
            return time.monotonic()

        recovery = _under_load(run, inject)
        letters: Any = []
        for _ in range(120):  # the cap is 3 deliveries, 3 s of claim idle apart
            letters = client.xrange(dead_letter_stream("tagger"))
            if letters:
                break
            time.sleep(0.5)
        found = [fields for _, fields in letters if fields[b"article_id"].decode() == poison_id]
        deliveries = int(found[0][b"deliveries"]) if found else 0
        error = found[0][b"error"].decode()[-80:] if found else ""
        checks = {"dead-lettered at the cap with its error": deliveries == 3 and "WRONGTYPE" in error}
        # The status write comes after the publish (DESIGN.md's write order), so a poison that only
        # breaks the status write still flows on once; each stage dead-letters its own copy.
        downstream = len(run.ledger.entries.get(poison_id, ()))
        notes = [f"tagger dead letter: deliveries={deliveries} error=...{error}",
                 f"poison entries the subscriber got: {downstream}"]  # fmt: skip
        return recovery, checks, notes

    return with_run("poison message", workdir, body, **load)


def _claimed_by(log_path: Path) -> int:
    """Messages a service processed on a second or later delivery (taken over from another)."""
    claimed = 0
    for line in log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == "message.processed" and record.get("deliveries", 1) > 1:
                claimed += 1
    return claimed


async def _publish(cluster: Stack, event: ArticleReceived, article_id: str) -> None:
    broker = make_broker(Settings(redis_url=cluster.url))
    async with broker:
        await broker.publish(event, stream=ARTICLES_RECEIVED, headers={ARTICLE_ID_HEADER: article_id})


def burst(count: int = 10_000, seconds: float = 10.0) -> Callable[..., FaultResult]:
    def fault(workdir: Path, **load: Any) -> FaultResult:
        def body(run: Run) -> tuple[float | None, dict[str, bool], list[str]]:
            started = time.monotonic()
            run.load.fire(count, seconds, prefix="burst")
            sent_in = time.monotonic() - started
            # A probe would wait behind the whole backlog: the recovery time here is the drain time.
            sent = time.monotonic()
            run.drain(240 + count / 50)
            recovery = time.monotonic() - sent if not run.ledger.missing() else None
            answers = dict(run.ledger.answers)
            checks = {"only 202/429/503": set(answers) <= {202, 429, 503}}
            notes = [f"{count} posted in {sent_in:.1f} s; answers {answers}; recovery = drain time"]
            return recovery, checks, notes

        return with_run(f"burst {count} in {seconds:.0f} s", workdir, body, drain_s=240)  # its own load

    return fault


FAULTS: dict[str, Callable[..., FaultResult]] = {
    "kill-tagger": kill_service("tagger"),
    "kill-dedup": kill_service("dedup"),
    "kill-pusher": kill_service("pusher"),
    "redis-stop": redis_outage("stop"),
    "redis-kill": redis_outage("kill"),
    "sigstop": sigstop_consumer,
    "same-article": same_article,
    "poison": poison,
    "burst": burst(),
}
