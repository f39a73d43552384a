"""The AsyncAPI 3.0 document of what subscribers receive, generated from the contract models.

Subscriber streams carry ``SubscriberEntry`` fields; webhooks carry a ``WebhookPayload`` body with
Standard Webhooks headers. The article itself is ninjs 3.1, referenced by the IPTC schema's id.
"""

from __future__ import annotations

from typing import Any

from shared.messages import SubscriberEntry, WebhookPayload

NINJS_SCHEMA_ID = "http://www.iptc.org/std/ninjs/ninjs-schema_3.1.json"
WEBHOOK_HEADERS = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {"type": "string", "description": "Stable across retries of one delivery."},
        "webhook-timestamp": {"type": "string", "description": "Unix seconds of this attempt."},
        "webhook-signature": {
            "type": "string",
            "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures of "
            "`{id}.{timestamp}.{body}` with the subscription's `whsec_` secret(s).",
        },
    },
}


def _schema(model: type[SubscriberEntry] | type[WebhookPayload]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


def _webhook_schema() -> dict[str, Any]:
    schema = _schema(WebhookPayload)
    schema["properties"]["data"] = {"$ref": NINJS_SCHEMA_ID, "description": "The article (ninjs 3.1)."}
    return schema


def asyncapi_document(version: str) -> dict[str, Any]:
    """AsyncAPI 3.0: the topic and subscription streams, and webhook deliveries."""
    entry = {"$ref": "#/components/messages/subscriberEntry"}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "newswire subscriber interface",
            "version": version,
            "description": "What services that subscribe to newswire receive. Read a stream with a "
            "consumer group of your own (XREADGROUP), or receive signed webhooks. See docs/subscribers.md.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "topicStream": {
                "address": "newswire:topic:{slug}",
                "description": "Every delivered article with this topic (`all`: every article); "
                "a Redis stream, trimmed by age.",
                "parameters": {"slug": {"description": "A topic slug, e.g. politics or place:KZ."}},
                "messages": {"subscriberEntry": entry},
            },
            "subscriptionStream": {
                "address": "newswire:sub:{name}",
                "description": "Every article matching the subscription's filter, once, in order.",
                "parameters": {"name": {"description": "The subscription's name."}},
                "messages": {"subscriberEntry": entry},
            },
            "webhook": {
                "address": "{url}",
                "description": "HTTP POST to the subscription's webhook URL (Standard Webhooks).",
                "parameters": {"url": {"description": "The URL given when the subscription was made."}},
                "messages": {"webhookDelivery": {"$ref": "#/components/messages/webhookDelivery"}},
            },
        },
        "operations": {
            "readTopicStream": {"action": "receive", "channel": {"$ref": "#/channels/topicStream"}},
            "readSubscriptionStream": {
                "action": "receive",
                "channel": {"$ref": "#/channels/subscriptionStream"},
            },
            "receiveWebhook": {"action": "receive", "channel": {"$ref": "#/channels/webhook"}},
        },
        "components": {
            "messages": {
                "subscriberEntry": {
                    "name": "SubscriberEntry",
                    "summary": "Plain stream fields; `article` is a ninjs 3.1 JSON document.",
                    "contentType": "application/x-redis-stream-fields",
                    "payload": _schema(SubscriberEntry),
                },
                "webhookDelivery": {
                    "name": "WebhookDelivery",
                    "contentType": "application/json",
                    "headers": WEBHOOK_HEADERS,
                    "payload": _webhook_schema(),
                },
            }
        },
    }
