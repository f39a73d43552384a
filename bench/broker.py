"""The broker's ceiling: raw Redis stream loops with redis-py on this machine, no framework.

XADD one awaited call at a time and pipelined in batches; XREADGROUP + XACK one entry at a time and a
batch per read with the acknowledgements pipelined. Payloads are the size of a real stage message.

``python -m bench.broker [--quick]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from bench.harness import private_redis, read_reply
from bench.stats import Summary

STREAM = "bench:raw"
GROUP = "bench"
BATCH = 100
PAYLOAD_BYTES = 5_000  # an ArticleTagged of a ~3 KB German article in FastStream's envelope


@dataclass(frozen=True)
class Plan:
    seconds: float
    runs: int

    @classmethod
    def for_(cls, *, quick: bool) -> Plan:
        return cls(seconds=0.5, runs=1) if quick else cls(seconds=1.5, runs=3)


@dataclass
class Result:
    rates: dict[str, list[float]] = field(default_factory=dict)

    def summary(self, name: str) -> Summary:
        return Summary.of(self.rates.get(name, []))


def _timed(seconds: float, step: Callable[[], int]) -> float:
    """Call ``step`` (returns messages handled) until ``seconds`` passed; messages per second."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        done += step()
    return done / (time.perf_counter() - started)


def _loops(client: redis.Redis, seconds: float) -> dict[str, float]:
    fields = {"__data__": b"x" * PAYLOAD_BYTES}
    client.delete(STREAM)

    def xadd_one() -> int:
        client.xadd(STREAM, fields)  # type: ignore[arg-type]  # bytes value
        return 1

    def xadd_batch() -> int:
        with client.pipeline(transaction=False) as pipe:
            for _ in range(BATCH):
                pipe.xadd(STREAM, fields)  # type: ignore[arg-type]  # bytes value
            pipe.execute()
        return BATCH

    rates = {"XADD, one call per message": _timed(seconds, xadd_one)}
    rates[f"XADD, pipelined batches of {BATCH}"] = _timed(seconds, xadd_batch)
    client.xgroup_create(STREAM, GROUP, id="0")

    def read_one() -> int:
        replies = read_reply(client.xreadgroup(GROUP, "c1", {STREAM: ">"}, count=1))
        for _, entries in replies:
            for entry_id, _ in entries:
                client.xack(STREAM, GROUP, entry_id)
        return 1

    def read_batch() -> int:
        replies = read_reply(client.xreadgroup(GROUP, "c2", {STREAM: ">"}, count=BATCH))
        ids = [entry_id for _, entries in replies for entry_id, _ in entries]
        if ids:
            client.xack(STREAM, GROUP, *ids)
        return len(ids)

    rates["XREADGROUP + XACK, one message per call"] = _timed(seconds, read_one)
    rates[f"XREADGROUP COUNT {BATCH} + one XACK of the batch"] = _timed(seconds, read_batch)
    client.delete(STREAM)
    return rates


def measure(plan: Plan) -> Result:
    result = Result()
    with private_redis() as server:
        client = redis.Redis.from_url(server.url)
        for _ in range(plan.runs):
            for name, rate in _loops(client, plan.seconds).items():
                result.rates.setdefault(name, []).append(rate)
        client.close()
    return result


def markdown(result: Result) -> str:
    rows = [f"| {name} | {result.summary(name).render(0)} |" for name in result.rates]
    return "\n".join(
        [
            "## Raw Redis (the broker's ceiling)",
            "",
            "redis-py (sync) in one process against a private redis-server (AOF on, everysec); "
            f"{PAYLOAD_BYTES:,}-byte payload per entry (a stage message's size). "
            "Median (min-max) of the runs.",
            "",
            "| loop | messages/s |",
            "|---|---|",
            *rows,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter loops, one run")
    args = parser.parse_args(argv)
    print(markdown(measure(Plan.for_(quick=args.quick))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
