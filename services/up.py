"""``newswire up``: Redis (embedded when NEWSWIRE_REDIS_URL is unset) and the four services.

Each service runs as its own child process with its log lines prefixed by its name. A child that
dies is restarted with backoff. Ctrl-C (or SIGTERM) stops the children first, then Redis, and
leaves no process behind; children also die with this process if it is killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from services.ops.runstate import forget_embedded_url, redact_url, write_embedded_url
from shared.embedded_redis import EmbeddedRedis, RedisNotFoundError, die_with_parent
from shared.logging import use_json
from shared.settings import Settings

SERVICES = ("tagger", "dedup", "pusher", "intake")
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
MEDIA_TYPES = {".txt": "text/plain", ".html": "text/html", ".json": "application/json"}
STOP_GRACE_S = 15.0
READY_TIMEOUT_S = 90.0
FINAL_STATUSES = {"delivered", "duplicate", "dead_lettered"}

log = structlog.stdlib.get_logger("newswire.up")
T = TypeVar("T")


@dataclass
class Child:
    name: str
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", self.name,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            start_new_session=True,  # Ctrl-C reaches only the supervisor, which stops us in order
            preexec_fn=die_with_parent,  # safe: no other thread runs user code before exec
        )  # fmt: skip
        self.pump = asyncio.create_task(self._prefix_output(), name=f"pump-{self.name}")
        log.info("child.started", child=self.name, pid=self.process.pid)

    async def _prefix_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        prefix = f"{self.name:<7}| ".encode()
        async for line in self.process.stdout:
            sys.stderr.buffer.write(prefix + line)
            sys.stderr.buffer.flush()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_GRACE_S)
        except TimeoutError:
            log.warning("child.killed", child=self.name, after_s=STOP_GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if self.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pump, 2)


def _child_env(settings: Settings, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["NEWSWIRE_REDIS_URL"] = redis_url
    env["PYTHONUNBUFFERED"] = "1"
    # Children write to a pipe; keep the format the terminal would have chosen.
    env["NEWSWIRE_LOG_FORMAT"] = "json" if use_json(settings.log_format, sys.stderr) else "console"
    return env


def _http_json(
    method: str, url: str, body: bytes | None = None, media: str | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (our own loopback URL)
    if media:
        request.add_header("Content-Type", media)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


async def _wait_ready(base: str, children: list[Child]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(c.process is not None and c.process.returncode is not None for c in children):
            await asyncio.sleep(0.5)  # the watchdog restarts it; keep waiting
        try:
            status, _ = await asyncio.to_thread(_http_json, "GET", f"{base}/readyz")
            if status == 200:
                return True
        except (OSError, ValueError):
            pass
        await asyncio.sleep(0.5)
    return False


async def feed_samples(base: str, samples: Path) -> None:
    """POST every sample once, then report where each one ended up."""
    submitted: list[tuple[str, str]] = []
    files = await asyncio.to_thread(lambda: sorted(samples.iterdir()))
    for path in files:
        media = MEDIA_TYPES.get(path.suffix)
        if media is None:
            continue
        body = await asyncio.to_thread(path.read_bytes)
        status, answer = await asyncio.to_thread(_http_json, "POST", f"{base}/v1/articles", body, media)
        if status == 202:
            submitted.append((path.name, answer["id"]))
        log.info("demo.submitted", sample=path.name, http_status=status, article_id=answer.get("id"))
    deadline = time.monotonic() + 30
    pending = dict(submitted)
    while pending and time.monotonic() < deadline:
        for name, article_id in list(pending.items()):
            status, answer = await asyncio.to_thread(_http_json, "GET", f"{base}/v1/articles/{article_id}")
            if status == 200 and answer.get("status") in FINAL_STATUSES:
                log.info(
                    "demo.finished",
                    sample=name,
                    article_id=article_id,
                    status=answer["status"],
                    story_id=answer.get("story_id"),
                    duplicate_of=answer.get("duplicate_of"),
                    topics=answer.get("topics"),
                )
                del pending[name]
        await asyncio.sleep(0.3)
    for name, article_id in pending.items():
        log.warning("demo.unfinished", sample=name, article_id=article_id)


async def _watch(children: list[Child], stopping: asyncio.Event) -> None:
    """Restart a child that died, with backoff, until the stack is stopping."""
    while not stopping.is_set():
        for child in children:
            process = child.process
            if process is None or process.returncode is None:
                continue
            delay = min(30.0, 2.0**child.restarts)
            log.error("child.exited", child=child.name, returncode=process.returncode, restart_in_s=delay)
            child.process = None
            child.restarts += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            if not stopping.is_set():
                await child.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 0.5)


async def _run(settings: Settings, redis_url: str, demo: bool) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    env = _child_env(settings, redis_url)
    children = [Child(name, env) for name in SERVICES]
    for child in children:
        await child.start()
    watcher = asyncio.create_task(_watch(children, stopping))
    base = f"http://{settings.http_host}:{settings.http_port}"
    try:
        ready = await _first_of(_wait_ready(base, children), stopping)
        if ready:
            log.info("stack.ready", intake=base, redis=redact_url(redis_url))
            if demo and not stopping.is_set():
                await _first_of(feed_samples(base, SAMPLES_DIR), stopping)
                log.info("demo.done", hint="the stack keeps running for new input; Ctrl-C stops it")
        elif not stopping.is_set():
            log.error("stack.not_ready", after_s=READY_TIMEOUT_S, readyz=f"{base}/readyz")
        await stopping.wait()
    finally:
        stopping.set()
        log.info("stack.stopping")
        await watcher
        await asyncio.gather(*(child.stop() for child in reversed(children)))


async def _first_of(work: Coroutine[Any, Any, T], stopping: asyncio.Event) -> T | None:
    """Run ``work`` unless the stack starts stopping first."""
    task = asyncio.ensure_future(work)
    stop = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stop):
        if pending not in done:
            pending.cancel()
    return task.result() if task in done else None


def run_stack(settings: Settings, *, demo: bool) -> int:
    redis: EmbeddedRedis | None = None
    redis_url = settings.redis_url
    if not redis_url:
        try:
            redis = EmbeddedRedis(settings.data_dir / "redis").start()
        except RedisNotFoundError as error:
            log.error("redis.not_found", help=str(error))
            return 2
        redis_url = redis.url
        pid = redis.process.pid if redis.process else None
        log.info("redis.started", url=redact_url(redis_url), pid=pid,
                 binary=str(redis.binary), data_dir=str(redis.data_dir))  # fmt: skip
        write_embedded_url(settings.data_dir, redis_url)  # `newswire status` and `dlq` find it there
    try:
        asyncio.run(_run(settings, redis_url, demo))
    finally:
        if redis is not None:
            forget_embedded_url(settings.data_dir)
            redis.stop()
            log.info("redis.stopped")
    log.info("stack.stopped")
    return 0
