"""Overload: a bound on the article submissions intake handles at once, and a fast 503 past it.

Under a burst, requests that queue up inside the process only grow its latency and memory until
clients time out; nothing is gained by admitting more work than the bound. Past the bound a
submission is answered at once with a designed 503 problem (``Retry-After``), before its body is
read or parsed, so shedding costs far less than accepting. Nothing shed was accepted, so nothing
accepted is lost; the client retries later.

A plain ASGI middleware, so it runs before FastAPI does any work for the request. Only
``POST /v1/articles`` is bounded: health checks, metrics and long-lived SSE streams are not
submissions and must keep answering while intake sheds load.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

log = structlog.stdlib.get_logger("newswire.intake")

SUBMISSION_PATH = "/v1/articles"
RETRY_AFTER_S = 1
LOG_EVERY_S = 1.0  # one line per second of shedding, not one per shed request


def _overloaded_body(limit: int) -> bytes:
    problem = {
        "type": f"{PROBLEM_TYPE_BASE}overloaded",
        "title": "Service overloaded",
        "status": 503,
        "detail": f"Intake is handling {limit} submissions already; retry after the given seconds.",
        "instance": SUBMISSION_PATH,
    }
    return json.dumps(problem).encode()


class SubmissionGate:
    """ASGI middleware: at most ``limit`` submissions in flight; the rest get 503 at once."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        on_shed: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self._on_shed = on_shed
        body = _overloaded_body(limit)
        # Built once: shedding must cost next to nothing.
        self._start = {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
            ],
        }
        self._body = {"type": "http.response.body", "body": body}
        self._shed_since_log = 0
        self._last_log = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != SUBMISSION_PATH:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._shed(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _shed(self, send: Send) -> None:
        await send(self._start)
        await send(self._body)
        if self._on_shed is not None:
            self._on_shed()
        self._shed_since_log += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            log.warning("intake.overloaded", shed=self._shed_since_log, max_in_flight=self.limit)
            self._shed_since_log, self._last_log = 0, now
