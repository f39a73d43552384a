"""No input makes intake answer 5xx: random bytes, random JSON, random headers and content types.

One app in memory (in-memory sink and stores); each example is one request. Bounded examples,
so the file runs in seconds.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.intake.app import InMemorySink, create_app
from shared.settings import Settings
from shared.status import InMemoryStatusStore

pytestmark = pytest.mark.service

SINK = InMemorySink()
APP = create_app(
    Settings(max_body_bytes=20_000, api_keys=(SecretStr("good-key"),), rate_limit_per_minute=100_000),
    sink=SINK,
    status=InMemoryStatusStore(),
)
PROBES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "application/ninjs+json",
            "application/vnd.example+json; profile=ninjs",
            "text/plain",
            "text/plain; charset=utf-16",
            "text/plain; charset=no-such-charset",
            "text/html",
            "text/html; charset=shift_jis",
            "application/xhtml+xml",
            "application/xml",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=300)
FIELDS = [
    "headline", "body", "html", "text", "url", "guid", "source", "language", "published_at", "authors",
    "uri", "headlines", "bodies", "by", "versionCreated", "firstcreated", "infoSources", "associations",
    "type", "value", "role", "contentType", "name", "body_html", "body_text",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=60),
    st.sampled_from(["<p>x</p>", "2026-11-26T08:00:00Z", "main", "text/html", "picture", "\ud800"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=25,
)


def _post(content: bytes, headers: dict[str, str]) -> httpx.Response:
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=APP), base_url="http://intake"
        ) as http:
            return await http.post("/v1/articles", content=content, headers=headers)

    return asyncio.run(send())


def _assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@PROBES
@given(content=st.binary(max_size=3_000), content_type=CONTENT_TYPES)
def test_random_bytes_under_any_content_type_never_give_a_5xx(content: bytes, content_type: str) -> None:
    """Arbitrary bytes with any declared type answer 2xx or a 4xx problem, never 5xx."""
    headers = {"x-api-key": "good-key"}
    if content_type:
        headers["content-type"] = content_type
    _assert_no_server_error(_post(content, headers))


@PROBES
@given(value=JSON_VALUES, media=st.sampled_from(["application/json", "application/ninjs+json"]))
def test_random_json_shaped_like_items_or_ninjs_never_gives_a_5xx(value: Any, media: str) -> None:
    """JSON built from our item's and ninjs's field names with any values never answers 5xx."""
    content = json.dumps(value, allow_nan=True, ensure_ascii=True).encode()
    _assert_no_server_error(_post(content, {"content-type": media, "x-api-key": "good-key"}))


@PROBES
@given(
    authorization=HEADER_VALUES,
    api_key=HEADER_VALUES,
    idempotency_key=st.one_of(st.none(), HEADER_VALUES),
    content_length=st.one_of(st.none(), st.sampled_from(["-1", "abc", "99999999999", "0"])),
)
def test_random_headers_never_give_a_5xx(
    authorization: str, api_key: str, idempotency_key: str | None, content_length: str | None
) -> None:
    """Any Authorization, X-API-Key and Idempotency-Key values answer 2xx, 401 or another 4xx."""
    headers = {"content-type": "application/json", "authorization": authorization, "x-api-key": api_key}
    if idempotency_key is not None:
        headers["idempotency-key"] = idempotency_key
    if content_length is not None:
        headers["content-length"] = content_length
    body = json.dumps({"headline": "H", "body": "B"}).encode()
    try:
        response = _post(body, headers)
    except (httpx.LocalProtocolError, ValueError):
        return  # the client itself refuses to send such a header; nothing reached intake
    _assert_no_server_error(response)
