"""Webhook signatures and payloads, checked with the official standardwebhooks library."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.pusher.signing import generate_secret, signature_header
from services.pusher.webhooks import PendingDelivery, webhook_id

pytestmark = pytest.mark.unit


def _delivery() -> PendingDelivery:
    article = json.dumps({"uri": "urn:newswire:article:A1", "headlines": [{"value": "Größere Ernte"}]})
    fields = {"id": "A1", "event": "article.published", "topic": "kz", "article": article}
    return PendingDelivery("kz", "1764244800000-0", fields)


def _headers(secrets: list[str], body: bytes, message_id: str = "msg_kz_A1") -> dict[str, str]:
    now = int(time.time())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header(secrets, message_id, now, body),
    }


def test_secrets_are_whsec_and_unique() -> None:
    """A generated secret has the whsec_ prefix, 32 random bytes, and is never repeated."""
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(secret.startswith("whsec_") and len(secret) == 6 + 44 for secret in secrets)


def test_the_library_verifies_our_signature_and_rejects_a_tampered_body() -> None:
    """standardwebhooks accepts the signed body and refuses one changed by a byte."""
    secret = generate_secret()
    body = _delivery().body()
    headers = _headers([secret], body)
    assert Webhook(secret).verify(body, headers)["data"]["uri"] == "urn:newswire:article:A1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"A1", b"A2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    """Signed with the new and the old secret, a receiver holding either one accepts the message."""
    old, new = generate_secret(), generate_secret()
    body = _delivery().body()
    headers = _headers([new, old], body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == Webhook(new).verify(body, headers)


def test_payload_is_type_timestamp_and_the_ninjs_data() -> None:
    """The body is {"type", "timestamp", "data"}: the event name, the entry time (ISO), the article."""
    payload = json.loads(_delivery().body())
    assert payload == {
        "type": "article.published",
        "timestamp": "2025-11-27T12:00:00.000Z",
        "data": {"uri": "urn:newswire:article:A1", "headlines": [{"value": "Größere Ernte"}]},
    }


def test_webhook_id_is_per_subscription_and_article() -> None:
    """The id is stable for one delivery and differs between subscriptions of one article."""
    assert _delivery().webhook_id == webhook_id("kz", "A1") == "msg_kz_A1"
    assert webhook_id("other", "A1") != webhook_id("kz", "A1")


def test_signing_without_a_live_secret_is_refused() -> None:
    """No secret means no signature: sending unsigned is never an option."""
    with pytest.raises(ValueError, match="live secret"):
        signature_header([], "msg", 1, b"{}")
