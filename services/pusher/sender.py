"""One webhook attempt over HTTP: checked and pinned destination, bounded in time and size."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from services.pusher.retry import parse_retry_after
from services.pusher.ssrf import RefusedDestination, Resolver, check_destination

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "newswire-webhooks/0.1"


@dataclass(frozen=True)
class AttemptResult:
    status: int | None  # None: no HTTP answer (refused, unreachable, timed out)
    retry_after: float | None = None
    error: str | None = None
    duration_ms: float = 0.0


class WebhookSender:
    """Sends to one endpoint; its own connection pool, so connections never cross endpoints."""

    def __init__(
        self,
        resolver: Resolver,
        allow_hosts: Collection[str] = (),
        timeout_s: float = 15.0,
        concurrency: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow_hosts = allow_hosts
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # a redirect is a failure, never followed (it could point anywhere)
            trust_env=False,  # a proxy from the environment would bypass the address pinning
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        started = time.perf_counter()

        def took() -> float:
            return round((time.perf_counter() - started) * 1000, 1)

        try:
            async with asyncio.timeout(self._timeout_s):
                # Checked again on every attempt: DNS may have changed since the last one.
                destination = await check_destination(url, self._resolver, self._allow_hosts)
                request = self._client.build_request(
                    "POST",
                    destination.pinned_url,
                    content=body,
                    headers={
                        **headers,
                        "host": destination.host_header,
                        "content-type": "application/json",
                        "user-agent": USER_AGENT,
                    },
                    extensions={"sni_hostname": destination.host} if destination.scheme == "https" else {},
                )
                response = await self._client.send(request, stream=True)
                try:
                    received = 0
                    async for chunk in response.aiter_raw():  # raw: no decompression bomb
                        received += len(chunk)
                        if received >= MAX_RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
        except RefusedDestination as error:
            return AttemptResult(None, error=f"refused: {error}", duration_ms=took())
        except TimeoutError:
            return AttemptResult(None, error=f"timed out after {self._timeout_s} s", duration_ms=took())
        except httpx.HTTPError as error:
            return AttemptResult(None, error=f"{type(error).__name__}: {error}", duration_ms=took())
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        return AttemptResult(response.status_code, retry_after=retry_after, duration_ms=took())

    async def aclose(self) -> None:
        await self._client.aclose()
