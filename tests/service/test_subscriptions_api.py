"""The subscriptions API in memory: create, list, get, delete, rotate; invalid input gets a problem."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.intake.app import InMemorySink, create_app
from shared.settings import Settings
from shared.status import InMemoryStatusStore
from shared.subscriptions import InMemorySubscriptionStore

pytestmark = pytest.mark.service

PROBLEM = "application/problem+json"
WEBHOOK = {
    "name": "kz-hook",
    "filter": {"any": {"entities": ["iso3166:KZ"], "topics": ["politics"]}, "include_updates": False},
    "delivery": {"kind": "webhook", "url": "https://hooks.example.com/newswire"},
}


@pytest.fixture
def store() -> InMemorySubscriptionStore:
    return InMemorySubscriptionStore()


@pytest.fixture
async def client(store: InMemorySubscriptionStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(webhook_allow_hosts=("receiver.test",))
    app = create_app(settings, sink=InMemorySink(), status=InMemoryStatusStore(), subscriptions=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as http:
        yield http


async def test_webhook_subscription_is_created_with_a_secret_shown_once(
    client: httpx.AsyncClient, store: InMemorySubscriptionStore
) -> None:
    """POST answers 201 with the subscription, its stream and a whsec_ secret; GET never shows it."""
    created = await client.post("/v1/subscriptions", json=WEBHOOK)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["stream"] == "newswire:sub:kz-hook"
    assert created.headers["location"] == "/v1/subscriptions/kz-hook"
    assert [s.value for s in await store.secrets("kz-hook")] == [body["secret"]]
    fetched = (await client.get("/v1/subscriptions/kz-hook")).json()
    listed = (await client.get("/v1/subscriptions")).json()["subscriptions"]
    assert "secret" not in fetched and body["secret"] not in str(listed)
    assert fetched["filter"]["any"]["entities"] == ["iso3166:KZ"]
    assert fetched["filter"]["include_updates"] is False
    assert [s["name"] for s in listed] == ["kz-hook"]


async def test_stream_subscription_has_no_secret_and_topics_are_normalised(client: httpx.AsyncClient) -> None:
    """A stream subscription answers without a secret; IPTC codes in any spelling become medtop:..."""
    created = await client.post(
        "/v1/subscriptions", json={"name": "pol", "filter": {"all": {"topics": ["11000000", "place:KZ"]}}}
    )
    assert created.status_code == 201
    assert "secret" not in created.json()
    assert created.json()["delivery"] == {"kind": "stream"}
    assert created.json()["filter"]["all"]["topics"] == ["medtop:11000000", "place:KZ"]


async def test_a_taken_name_is_a_conflict(client: httpx.AsyncClient) -> None:
    """Creating a second subscription with the same name answers 409 and keeps the first."""
    assert (await client.post("/v1/subscriptions", json=WEBHOOK)).status_code == 201
    again = await client.post("/v1/subscriptions", json={**WEBHOOK, "delivery": {"kind": "stream"}})
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/subscriptions/kz-hook")).json()["delivery"]["kind"] == "webhook"


async def test_delete_removes_it_and_unknown_names_are_404(client: httpx.AsyncClient) -> None:
    """DELETE answers 204, then GET and a second DELETE answer 404 problems."""
    await client.post("/v1/subscriptions", json=WEBHOOK)
    assert (await client.delete("/v1/subscriptions/kz-hook")).status_code == 204
    for response in (
        await client.get("/v1/subscriptions/kz-hook"),
        await client.delete("/v1/subscriptions/kz-hook"),
    ):
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("body", "pointer", "says"),
    [
        ({**WEBHOOK, "filter": {"any": {"topics": ["Politics!"]}}}, "/filter/any/topics", "IPTC"),
        ({**WEBHOOK, "filter": {"all": {"entities": ["Kazakhstan"]}}}, "/filter/all/entities", "entity id"),
        ({**WEBHOOK, "filter": {"all": {"languages": ["de", "en"]}}}, "/filter", "all.languages"),
        ({**WEBHOOK, "filter": {"some": {"topics": ["politics"]}}}, "/filter/some", "Extra inputs"),
        ({**WEBHOOK, "name": "Not A Name"}, "/name", "pattern"),
        ({**WEBHOOK, "delivery": {"kind": "pigeon"}}, "/delivery", "kind"),
        ({**WEBHOOK, "delivery": {"kind": "webhook", "url": "ftp://x.example/"}},
         "/delivery/webhook/url", "http"),
        ({**WEBHOOK, "delivery": {"kind": "webhook", "url": "http://169.254.169.254/latest"}},
         "/delivery/url", "link-local"),
        ({**WEBHOOK, "delivery": {"kind": "webhook", "url": "http://10.0.0.1/"}},
         "/delivery/url", "private"),
    ],
)  # fmt: skip
async def test_invalid_subscriptions_get_a_problem_saying_what_and_where(
    client: httpx.AsyncClient, body: dict, pointer: str, says: str
) -> None:
    """422 problem+json whose errors name the field at fault and why; nothing is stored."""
    response = await client.post("/v1/subscriptions", json=body)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert any(e["pointer"].startswith(pointer) and says in e["message"] for e in problem["errors"]), problem
    assert says in problem["detail"] or pointer in problem["detail"]
    assert (await client.get("/v1/subscriptions")).json() == {"subscriptions": []}


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    """A body that is not JSON answers 400 problem+json."""
    response = await client.post(
        "/v1/subscriptions", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM


async def test_allowed_local_host_may_be_a_webhook_target(client: httpx.AsyncClient) -> None:
    """A host named in NEWSWIRE_WEBHOOK_ALLOW_HOSTS is accepted although it is local."""
    body = {**WEBHOOK, "delivery": {"kind": "webhook", "url": "http://receiver.test:9000/hook"}}
    assert (await client.post("/v1/subscriptions", json=body)).status_code == 201


async def test_rotation_shows_a_new_secret_and_keeps_the_old_one_live(
    client: httpx.AsyncClient, store: InMemorySubscriptionStore
) -> None:
    """POST .../secret answers a new secret; both it and the old one sign until the grace ends."""
    first = (await client.post("/v1/subscriptions", json=WEBHOOK)).json()["secret"]
    rotated = await client.post("/v1/subscriptions/kz-hook/secret")
    assert rotated.status_code == 200
    second = rotated.json()["secret"]
    secrets = await store.secrets("kz-hook")
    assert [s.value for s in secrets] == [second, first]
    assert secrets[0].expires_at is None and secrets[1].expires_at is not None
    assert (await client.post("/v1/subscriptions", json={"name": "plain"})).status_code == 201
    assert (await client.post("/v1/subscriptions/plain/secret")).status_code == 409


async def test_events_of_an_unknown_subscription_or_a_bad_event_id_are_problems(
    client: httpx.AsyncClient,
) -> None:
    """SSE: 404 for an unknown subscription, 400 for a Last-Event-ID that is not an entry id."""
    assert (await client.get("/v1/subscriptions/nope/events")).status_code == 404
    await client.post("/v1/subscriptions", json={"name": "plain"})
    bad = await client.get("/v1/subscriptions/plain/events", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
