"""SSRF defences of webhook delivery, tested with a fake resolver (no traffic to private addresses)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest

from services.pusher.sender import MAX_RESPONSE_BYTES, WebhookSender
from services.pusher.ssrf import RefusedDestination, check_destination, refusal_reason

pytestmark = pytest.mark.unit

PUBLIC = "93.184.215.14"


class FakeResolver:
    """Answers from a table, and counts the questions."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError("Name or service not known")
        return self.table[host]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "100.100.100.200", "0.0.0.0", "224.0.0.1",  # noqa: S104 (an address to refuse, not to bind) "255.255.255.255", "240.0.0.1", "::1", "::",
        "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::a00:1", "2002:a00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)  # fmt: skip
async def test_non_global_addresses_are_refused(address: str) -> None:
    """Loopback, private, link-local/metadata, CGNAT, multicast, reserved and IPv6 forms that embed
    them are refused, whether the URL names them or a host resolves to them."""
    assert refusal_reason(ipaddress.ip_address(address)) is not None
    resolver = FakeResolver({"hooks.example.com": [PUBLIC, address]})
    with pytest.raises(RefusedDestination, match="which is"):
        await check_destination("https://hooks.example.com/in", resolver)


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"])
async def test_public_addresses_pass_and_the_first_is_pinned(address: str) -> None:
    """A host resolving only to global addresses passes; the request goes to the checked address."""
    resolver = FakeResolver({"hooks.example.com": [address]})
    destination = await check_destination("https://hooks.example.com:8443/in?x=1", resolver)
    assert str(destination.address) == address
    assert destination.host_header == "hooks.example.com:8443"
    assert destination.pinned_url.endswith(":8443/in?x=1")
    assert address in destination.pinned_url


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/", "file:///etc/passwd", "gopher://x/", "//x/"])
async def test_only_http_and_https(url: str) -> None:
    """Any other scheme is refused before anything is resolved."""
    resolver = FakeResolver({})
    with pytest.raises(RefusedDestination, match="scheme"):
        await check_destination(url, resolver)
    assert resolver.asked == []


async def test_unresolvable_host_is_refused() -> None:
    """A name that does not resolve is refused with the reason."""
    with pytest.raises(RefusedDestination, match="does not resolve"):
        await check_destination("https://nowhere.example/", FakeResolver({}))


async def test_allow_list_lets_a_named_local_host_through_and_only_it() -> None:
    """NEWSWIRE_WEBHOOK_ALLOW_HOSTS admits the named host; another local one is still refused."""
    resolver = FakeResolver({"receiver.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    allowed = await check_destination("http://receiver.test:9000/", resolver, allow_hosts=("receiver.test",))
    assert allowed.pinned_url == "http://127.0.0.1:9000/"
    with pytest.raises(RefusedDestination):
        await check_destination("http://other.test:9000/", resolver, allow_hosts=("receiver.test",))


async def test_sender_connects_to_the_checked_address_with_host_and_sni_set() -> None:
    """The request goes to the pinned IP; Host header and TLS SNI carry the name; no redirect is
    followed; the body read stops at 64 KB."""
    seen: list[httpx.Request] = []
    pulled: list[int] = []

    class EndlessBody(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                pulled.append(10_000)
                yield b"x" * 10_000

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "http://169.254.169.254/"}, stream=EndlessBody())

    resolver = FakeResolver({"hooks.example.com": [PUBLIC]})
    sender = WebhookSender(resolver, transport=httpx.MockTransport(answer))
    result = await sender.send("https://hooks.example.com/in", {"webhook-id": "msg_1"}, b"{}")
    await sender.aclose()
    assert result.status == 302 and len(seen) == 1  # not followed
    (request,) = seen
    assert request.url.host == PUBLIC and request.url.scheme == "https"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert MAX_RESPONSE_BYTES == 64 * 1024
    assert MAX_RESPONSE_BYTES <= sum(pulled) < MAX_RESPONSE_BYTES + 10_000


async def test_sender_checks_again_on_every_attempt() -> None:
    """A host that turned private since the last attempt is refused without any request."""
    calls: list[httpx.Request] = []
    resolver = FakeResolver({"hooks.example.com": [PUBLIC]})
    sender = WebhookSender(
        resolver,
        transport=httpx.MockTransport(
            lambda r: calls.append(r) or httpx.Response(200, stream=httpx.ByteStream(b""))
        ),
    )
    first = await sender.send("https://hooks.example.com/in", {}, b"{}")
    resolver.table["hooks.example.com"] = ["10.0.0.5"]
    second = await sender.send("https://hooks.example.com/in", {}, b"{}")
    await sender.aclose()
    assert first.status == 200
    assert second.status is None and second.error is not None and "10.0.0.5" in second.error
    assert len(calls) == 1 and resolver.asked == ["hooks.example.com", "hooks.example.com"]
