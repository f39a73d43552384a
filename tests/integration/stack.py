"""A harness that runs newswire's services as real processes against a real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from shared.embedded_redis import free_port

SERVICES = ("intake", "tagger", "dedup", "pusher")
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", self.name],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Stack:
    redis_url: str
    workdir: Path
    settings: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            NEWSWIRE_REDIS_URL=self.redis_url,
            NEWSWIRE_HTTP_PORT=str(self.http_port),
            NEWSWIRE_LOG_FORMAT="json",
            NEWSWIRE_HEARTBEAT_INTERVAL_S="0.5",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.settings)
        return env

    def start(self, names: tuple[str, ...] = SERVICES) -> Stack:
        env = self.env()
        for name in names:
            service = ServiceProcess(name, env, self.workdir / f"{name}.log")
            service.start()
            self.services[name] = service
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.base_url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.25)
        raise AssertionError(f"stack not ready after {timeout} s: {last}\n{self.all_logs()}")

    def stop(self) -> dict[str, int | None]:
        return {name: service.stop() for name, service in self.services.items()}

    def all_logs(self) -> str:
        return "\n".join(f"--- {name}\n{service.logs()[-4000:]}" for name, service in self.services.items())


@contextmanager
def running_stack(redis_url: str, workdir: Path, settings: dict[str, str] | None = None) -> Iterator[Stack]:
    """The four services on a flushed database, ready; afterwards every one must exit cleanly."""
    redis.Redis.from_url(redis_url).flushdb()
    running = Stack(redis_url, workdir, settings=settings or {}).start()
    try:
        running.wait_ready()
        yield running
    finally:
        codes = running.stop()
        assert all(code == 0 for code in codes.values()), f"unclean exits {codes}\n{running.all_logs()}"
