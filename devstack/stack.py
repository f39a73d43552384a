"""The services of one stack: a shared environment, replicas, readiness, an optional supervisor that
restarts a service that exits (as ``newswire up`` or compose would) and an optional Redis of its own."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import redis as redis_py

from devstack.process import ServiceProcess
from shared.embedded_redis import EmbeddedRedis, free_port

SERVICES = ("intake", "tagger", "dedup", "pusher")
SETTINGS_PREFIX = "NEWSWIRE_"
RESTART_DELAY_S = 1.0
SUPERVISOR_POLL_S = 0.2
READY_TIMEOUT_S = 90.0


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll ``check()`` until it is true and return the seconds that took; TimeoutError after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s")


def environ_without_settings() -> dict[str, str]:
    """This process's environment minus the ``NEWSWIRE_*`` settings of the shell that started it."""
    return {key: value for key, value in os.environ.items() if not key.startswith(SETTINGS_PREFIX)}


@dataclass
class Stack:
    """Services started against ``redis_url``, or, when it is None, against an embedded Redis of the
    stack's own under ``workdir/redis`` (``stack.redis``, which a fault can stop, kill and restart)."""

    redis_url: str | None
    workdir: Path
    settings: Mapping[str, str] = field(default_factory=dict)
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    replicas: Mapping[str, int] = field(default_factory=dict)
    supervise: bool = False
    http_port: int = field(default_factory=free_port)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    redis: EmbeddedRedis | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The Redis the services use."""
        if self.redis_url is not None:
            return self.redis_url
        assert self.redis is not None, "the stack's own Redis starts with the stack"
        return self.redis.url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(
            NEWSWIRE_REDIS_URL=self.url,
            NEWSWIRE_HTTP_PORT=str(self.http_port),
            NEWSWIRE_LOG_FORMAT="json",
            NEWSWIRE_HEARTBEAT_INTERVAL_S="0.5",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.settings)
        return env

    def start(self, names: tuple[str, ...] = SERVICES) -> Stack:
        """Each named service, ``replicas[name]`` times (labels ``name``, ``name#1``, ...)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.redis_url is None and self.redis is None:
            self.redis = EmbeddedRedis(self.workdir / "redis").start()
        env = self.env()
        for name in names:
            for replica in range(self.replicas.get(name, 1)):
                label = name if replica == 0 else f"{name}#{replica}"
                service = ServiceProcess(name, env, self.workdir / f"{label.replace('#', '-')}.log", label)
                service.start()
                self.services[label] = service
        if self.supervise and self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
            self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISOR_POLL_S):
            for service in list(self.services.values()):
                if service.process is not None and service.process.poll() is not None:
                    time.sleep(RESTART_DELAY_S)
                    if not self._stopping.is_set():
                        service.restarts += 1
                        service.start()

    def client(self) -> redis_py.Redis:
        return redis_py.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds until intake's ``/readyz`` (every consumer service ready) answered 200."""
        return self._wait_for_answer("/readyz", timeout)

    def wait_healthy(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds until intake's ``/healthz`` answered 200: for intake without the consumers."""
        return self._wait_for_answer("/healthz", timeout)

    def _wait_for_answer(self, path: str, timeout: float) -> float:
        last = ["no answer"]

        def answered() -> bool:
            try:
                response = httpx.get(f"{self.base_url}{path}", timeout=2)
            except httpx.HTTPError as error:
                last[0] = repr(error)
                return False
            last[0] = response.text
            return response.status_code == 200

        try:
            return wait_for(answered, timeout, path, interval=0.2)
        except TimeoutError as error:
            msg = f"{path} not 200 after {timeout} s: {last[0]}; logs in {self.workdir}\n{self.all_logs()}"
            raise TimeoutError(msg) from error

    def kill(self, label: str) -> None:
        """``kill -9`` one service; a supervised stack starts it again after RESTART_DELAY_S."""
        self.services[label].kill()

    def stop(self, timeout: float = 20.0) -> dict[str, int | None]:
        """Every service's exit code (all are asked at once, so their shutdowns overlap), then the
        stack's own Redis, if any, is stopped."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(RESTART_DELAY_S + 5)
        for service in self.services.values():
            service.terminate()
        codes = {label: service.wait(timeout) for label, service in self.services.items()}
        if self.redis is not None:
            self.redis.stop()
        return codes

    def all_logs(self, tail: int = 4000) -> str:
        return "\n".join(f"--- {label}\n{service.logs()[-tail:]}" for label, service in self.services.items())

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
