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
from urllib.parse import urlsplit

from chaos.http_load import Answer, post_request
from chaos.http_load import offer as offer_requests


async def offer(url: str, items: list[bytes], rate: float, concurrency: int) -> dict[str, object]:
    """Send every item; at ``rate`` per second from the start (a late send does not shift later ones).

    The lean client of ``chaos.http_load`` (a few tens of microseconds of CPU per request): with
    httpx the load generator itself took a millisecond per request, on the same two cores.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [post_request(host, port, "/v1/articles", body, {}) for body in items]
    accepted: list[tuple[str, float, float]] = []
    errors: Counter[str] = Counter()

    def on_answer(_: int, answer: Answer) -> None:
        now = time.time()
        if answer.status == 202 and answer.body is not None:
            accepted.append((str(answer.body["id"]), now, now - answer.seconds))
        else:
            errors[str(answer.status or "no answer")] += 1

    seconds = len(items) / rate if rate > 0 else 0.0
    began = time.time()
    await offer_requests(host, port, requests, seconds=seconds, connections=concurrency, on_answer=on_answer)
    return {"accepted": accepted, "errors": dict(errors), "began": began, "finished": time.time()}


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
