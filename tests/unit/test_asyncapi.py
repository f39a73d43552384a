"""The AsyncAPI document subscribers' engineers read is generated from the contract models."""

from __future__ import annotations

import json

import pytest
from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

from services.intake.asyncapi import asyncapi_document
from services.pusher.webhooks import PendingDelivery
from shared.messages import WebhookPayload

pytestmark = pytest.mark.unit


def test_document_is_asyncapi_3_with_both_streams_and_webhooks() -> None:
    """The document parses as AsyncAPI 3.0 and names the two stream channels and the webhook."""
    document = asyncapi_document("1.2.3")
    parsed = ApplicationSchema.model_validate(document)
    assert document["asyncapi"] == "3.0.0"
    assert set(parsed.channels) == {"topicStream", "subscriptionStream", "webhook"}
    assert parsed.channels["topicStream"].address == "newswire:topic:{slug}"


def test_stream_entry_schema_lists_exactly_the_plain_fields() -> None:
    """The stream message's payload is the four plain fields, all required strings."""
    payload = asyncapi_document("1")["components"]["messages"]["subscriberEntry"]["payload"]
    assert set(payload["properties"]) == {"id", "event", "topic", "article"}
    assert set(payload["required"]) == {"id", "event", "topic", "article"}


def test_the_webhook_body_the_pusher_sends_matches_the_documented_payload() -> None:
    """The body the dispatcher builds by hand validates as the documented WebhookPayload."""
    delivery = PendingDelivery(
        subscription="kz",
        entry_id="1795826553532-0",
        fields={"id": "a1", "event": "article.published", "topic": "kz", "article": '{"uri": "urn:x"}'},
    )
    payload = WebhookPayload.model_validate(json.loads(delivery.body()))
    assert (payload.type, payload.data) == ("article.published", {"uri": "urn:x"})
    assert payload.timestamp.endswith("Z")
