"""What every part of the benchmark shares: a private Redis, the services as real processes, the load
generator process, the reader of the pipeline's end, and a description of the machine."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import cast

import redis
from faststream.redis.parser import BinaryMessageFormatV1

from bench.stats import Arrival, Sent, entry_millis
from devstack import REPO_ROOT, Stack
from shared.embedded_redis import EmbeddedRedis
from shared.messages import ALL_TOPIC, ARTICLES_DUPLICATES, topic_stream
from shared.stage import ARTICLE_ID_HEADER

ALL = topic_stream(ALL_TOPIC)
LIBRARIES = (
    "faststream",
    "redis",
    "hiredis",
    "pydantic",
    "fastapi",
    "uvicorn",
    "httpx",
    "structlog",
    "numpy",
)
FASTSTREAM_DATA_FIELD = b"__data__"

Entry = tuple[bytes, dict[bytes, bytes]]
StreamReply = list[tuple[bytes, list[Entry]]]


def entries(client: redis.Redis, stream: str) -> list[Entry]:
    """Every entry of a stream (redis-py's sync replies are typed loosely)."""
    return cast("list[Entry]", client.xrange(stream))


def copy_entries(client: redis.Redis, stream: str, copied: list[Entry]) -> None:
    """Publish captured entries again, field for field (the payload the previous stage wrote)."""
    with client.pipeline(transaction=False) as pipe:
        for _, fields in copied:
            pipe.xadd(stream, fields)  # type: ignore[arg-type]  # bytes fields, as read
        pipe.execute()


def read_reply(reply: object) -> StreamReply:
    """An XREAD/XREADGROUP reply as what it is on a bytes (not decoding) client."""
    return cast("StreamReply", reply or [])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds(client: redis.Redis) -> float:
    """User + system CPU time the Redis server has used so far (``INFO cpu``)."""
    info = cast("dict[str, float]", client.info("cpu"))
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@contextlib.contextmanager
def private_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server of our own on loopback, AOF on (``appendfsync everysec``) as in production."""
    with (
        tempfile.TemporaryDirectory(prefix="newswire-bench-") as folder,
        EmbeddedRedis(Path(folder)) as server,
    ):
        yield server


@contextlib.contextmanager
def services(redis_url: str, names: Sequence[str], settings: dict[str, str] | None = None) -> Iterator[Stack]:
    """The named services as real processes (``newswire <name>``), stopped on exit."""
    with (
        tempfile.TemporaryDirectory(prefix="newswire-bench-logs-") as folder,
        Stack(redis_url, Path(folder), settings=settings or {}) as stack,
    ):
        yield stack.start(tuple(names))


@dataclass(frozen=True)
class LoadResult:
    sent: tuple[Sent, ...]
    errors: dict[str, int]
    began: float
    finished: float
    intake_ms: tuple[float, ...]  # request sent to 202 received, per accepted article

    @property
    def accept_rate(self) -> float:
        span = self.finished - self.began
        return len(self.sent) / span if span > 0 else 0.0


def offer_load(
    base_url: str, bodies: Sequence[bytes], rate: float, concurrency: int, workdir: Path
) -> LoadResult:
    """Run the load generator as its own process (its CPU is not ours, as a real client's)."""
    items, out = workdir / "items.jsonl", workdir / "sent.json"
    items.write_bytes(b"\n".join(bodies) + b"\n")
    subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bench.load", "--url", base_url, "--items", str(items),
         "--rate", str(rate), "--concurrency", str(concurrency), "--out", str(out)],
        cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    result = json.loads(out.read_text())
    return LoadResult(
        tuple(Sent(str(i), float(a)) for i, a, _ in result["accepted"]),
        result["errors"],
        result["began"],
        result["finished"],
        tuple((float(a) - float(s)) * 1000 for _, a, s in result["accepted"]),
    )


def article_id_of(stream: bytes, fields: dict[bytes, bytes]) -> str:
    """A subscriber entry has a plain ``id``; a stage stream entry has FastStream's envelope."""
    if FASTSTREAM_DATA_FIELD in fields:
        _, headers = BinaryMessageFormatV1.parse(fields[FASTSTREAM_DATA_FIELD])
        return str(headers.get(ARTICLE_ID_HEADER, ""))
    return fields.get(b"id", b"").decode()


class ArrivalReader:
    """A thread that XREADs the pipeline's two ends (``newswire:topic:all``, ``articles.duplicates``)."""

    def __init__(self, redis_url: str) -> None:
        self._client = redis.Redis.from_url(redis_url)
        now = f"{int(time.time() * 1000)}-0"
        self._cursor: dict[str, str] = {ALL: now, ARTICLES_DUPLICATES: now}
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arrival-reader", daemon=True)

    def __enter__(self) -> ArrivalReader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            reply = self._client.xread(self._cursor, count=1000, block=200)  # type: ignore[arg-type]  # str ids are valid
            found: list[Arrival] = []
            for stream, batch in read_reply(reply):
                name = stream.decode()
                for entry_id, fields in batch:
                    self._cursor[name] = entry_id.decode()
                    found.append(Arrival(article_id_of(stream, fields), entry_millis(entry_id), name == ALL))
            with self._lock:
                self._arrivals.extend(found)

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def count_of(self, ids: set[str]) -> int:
        with self._lock:
            return len({arrival.article_id for arrival in self._arrivals if arrival.article_id in ids})


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def redis_version(server: EmbeddedRedis) -> str:
    out = subprocess.run(  # noqa: S603 - the binary we run, fixed argument
        [str(server.binary), "--version"], capture_output=True, text=True, check=False
    ).stdout
    found = [part.split("=", 1)[1] for part in out.split() if part.startswith("v=")]
    return f"{found[0] if found else out.strip()} ({server.binary})"


def python_speed_ns(steps: int = 100_000, tries: int = 9) -> float:
    """Nanoseconds per step of a fixed pure-Python loop, median of ``tries`` (~0.1 s in all): how
    fast this host runs CPython at the moment. A virtual machine's speed drifts with its neighbours
    (54 to 111 ns within one minute here), so this, taken before and after a run, hints whether two
    runs' figures can be compared; it cannot vouch for the minutes in between."""
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        total = 0
        for step in range(steps):
            total += step & 7
        times.append(time.perf_counter() - started)
    return statistics.median(times) / steps * 1e9


@dataclass(frozen=True)
class Machine:
    date: str
    cores: int
    cpu: str
    memory_gb: float
    python: str
    libraries: dict[str, str]
    load_before: tuple[float, float, float]
    speed_before_ns: float

    def rows(self, redis: str, load_after: tuple[float, float, float]) -> list[tuple[str, str]]:
        def fmt(load: tuple[float, float, float]) -> str:
            return " / ".join(f"{value:.2f}" for value in load)

        return [
            ("date", self.date),
            ("cores", str(self.cores)),
            ("CPU", self.cpu),
            ("memory", f"{self.memory_gb:.1f} GB"),
            ("Python", self.python),
            ("Redis", redis),
            ("libraries", ", ".join(f"{name} {ver}" for name, ver in self.libraries.items())),
            ("load average (1/5/15 min) before", fmt(self.load_before)),
            ("load average (1/5/15 min) after", fmt(load_after)),
            (
                "CPython speed before / after (ns per step of a fixed loop; lower is faster)",
                f"{self.speed_before_ns:.0f} / {python_speed_ns():.0f}",
            ),
        ]


def machine() -> Machine:
    libraries = {}
    for name in LIBRARIES:
        with contextlib.suppress(Exception):
            libraries[name] = version(name)
    return Machine(
        date=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        cores=os.cpu_count() or 0,
        cpu=_cpu_model(),
        memory_gb=_memory_gb(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        libraries=libraries,
        load_before=os.getloadavg(),
        speed_before_ns=python_speed_ns(),
    )
