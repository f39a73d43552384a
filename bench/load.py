"""The load generator, run as its own process: POST items to intake at a fixed rate (open loop) or as
fast as a bounded number of requests in flight allows (``--rate 0``), and write down every 202.

``python -m bench.load --url http://127.0.0.1:8080 --items items.jsonl --rate 200 --out sent.json``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx

JSON_HEADERS = {"content-type": "application/json"}


async def offer(url: str, items: list[bytes], rate: float, concurrency: int) -> dict[str, object]:
    """Send every item; at ``rate`` per second from the start (a late send does not shift later ones)."""
    accepted: list[tuple[str, float, float]] = []
    errors: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def send(body: bytes) -> None:
            async with gate:
                sent_at = time.time()
                try:
                    response = await client.post("/v1/articles", content=body, headers=JSON_HEADERS)
                except httpx.HTTPError as error:
                    errors[type(error).__name__] += 1
                    return
                if response.status_code == 202:
                    accepted.append((response.json()["id"], time.time(), sent_at))
                else:
                    errors[str(response.status_code)] += 1

        started = time.monotonic()
        began = time.time()
        tasks: list[asyncio.Task[None]] = []
        for n, body in enumerate(items):
            if rate > 0:
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await gate.acquire()  # closed loop: wait for a free slot before creating the task
                gate.release()
            tasks.append(asyncio.create_task(send(body)))
        await asyncio.gather(*tasks)
        finished = time.time()
    return {"accepted": accepted, "errors": dict(errors), "began": began, "finished": finished}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--items", type=Path, required=True, help="JSONL: one request body a line")
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second; 0: as fast as possible")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    items = [line for line in args.items.read_bytes().splitlines() if line.strip()]
    result = asyncio.run(offer(args.url, items, args.rate, args.concurrency))
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
