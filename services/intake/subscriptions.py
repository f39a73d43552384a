"""The subscriptions API: create, list, get, delete, rotate a webhook secret, and follow by SSE.

A webhook subscription's secret is generated here and shown once, in the answer to its creation
(or rotation); it is never listed again. Invalid filters and deliveries answer 422 problems that
name the field at fault (``errors[].pointer``).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from redis.exceptions import RedisError

from services.intake.problems import Problem
from services.intake.sse import ENTRY_ID, EventSource, RedisEventSource, event_response
from services.pusher.signing import generate_secret
from services.pusher.ssrf import refusal_reason
from shared.settings import Settings
from shared.subscriptions import (
    InMemorySubscriptionStore,
    RedisSubscriptionStore,
    Subscription,
    SubscriptionStore,
    WebhookSecret,
)

TAG = "subscriptions"


def describe(subscription: Subscription) -> dict[str, Any]:
    """A subscription as the API shows it (never with its secret)."""
    return {**subscription.model_dump(mode="json"), "stream": subscription.stream}


def _unavailable(error: Exception) -> Problem:
    return Problem(503, "unavailable", "Service unavailable",
                   "The subscription store is unreachable; retry later.",
                   headers={"Retry-After": "5"})  # fmt: skip


def _invalid(error: ValidationError) -> Problem:
    faults = [
        {"pointer": "/" + "/".join(str(part) for part in fault["loc"]), "message": fault["msg"]}
        for fault in error.errors()
    ]
    summary = "; ".join(f"{fault['pointer']}: {fault['message']}" for fault in faults[:5])
    return Problem(422, "invalid-subscription", "The subscription is not valid", summary, faults)


def _read_subscription(body: bytes, settings: Settings) -> Subscription:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise Problem(400, "malformed-json", "Malformed JSON", f"The body is not JSON: {error}") from error
    if not isinstance(raw, dict):
        raise Problem(400, "malformed-json", "Malformed JSON", "The body must be a JSON object.")
    try:
        subscription = Subscription.model_validate(raw)
    except ValidationError as error:
        raise _invalid(error) from error
    webhook = subscription.webhook
    if webhook is not None:
        address = webhook.literal_address()
        allowed = webhook.host.lower() in {host.lower() for host in settings.webhook_allow_hosts}
        reason = refusal_reason(address) if address is not None and not allowed else None
        if reason:
            message = f"the webhook URL points at {address}, which is {reason}"
            raise Problem(
                422, "invalid-subscription", "The subscription is not valid",
                f"/delivery/url: {message}", [{"pointer": "/delivery/url", "message": message}],
            )  # fmt: skip
    return subscription


def subscription_router(
    settings: Settings, store: SubscriptionStore, events: EventSource | None
) -> APIRouter:
    """The routes under ``/v1/subscriptions``; ``events`` None answers SSE requests with 503."""
    router = APIRouter(prefix="/v1/subscriptions", tags=[TAG])

    async def existing(name: str) -> Subscription:
        try:
            found = await store.get(name)
        except (RedisError, OSError) as error:
            raise _unavailable(error) from error
        if found is None:
            raise Problem(404, "unknown-subscription", "Unknown subscription", f"No subscription {name!r}.")
        return found

    @router.post("", status_code=201, response_model=None)
    async def create_subscription(request: Request) -> JSONResponse:
        """Create a subscription. For a webhook, the answer carries its signing secret, once."""
        subscription = _read_subscription(await request.body(), settings)
        secret = WebhookSecret(value=generate_secret()) if subscription.webhook is not None else None
        try:
            created = await store.create(subscription, secret)
        except (RedisError, OSError) as error:
            raise _unavailable(error) from error
        if not created:
            raise Problem(
                409, "subscription-exists", "Subscription exists",
                f"A subscription named {subscription.name!r} exists; delete it first or choose another name.",
            )  # fmt: skip
        body = describe(subscription)
        if secret is not None:
            body["secret"] = secret.value
        return JSONResponse(
            body, status_code=201, headers={"Location": f"/v1/subscriptions/{subscription.name}"}
        )

    @router.get("")
    async def list_subscriptions() -> dict[str, list[dict[str, Any]]]:
        """Every subscription (without secrets)."""
        try:
            found = await store.list()
        except (RedisError, OSError) as error:
            raise _unavailable(error) from error
        return {"subscriptions": [describe(sub) for sub in found]}

    @router.get("/{name}")
    async def get_subscription(name: str) -> dict[str, Any]:
        """One subscription (without its secret)."""
        return describe(await existing(name))

    @router.delete("/{name}", status_code=204, response_class=Response)
    async def delete_subscription(name: str) -> Response:
        """Delete a subscription with its stream and pending webhook deliveries."""
        try:
            deleted = await store.delete(name)
        except (RedisError, OSError) as error:
            raise _unavailable(error) from error
        if not deleted:
            raise Problem(404, "unknown-subscription", "Unknown subscription", f"No subscription {name!r}.")
        return Response(status_code=204)

    @router.post("/{name}/secret")
    async def rotate_secret(name: str) -> dict[str, Any]:
        """A new signing secret, shown once; the old one keeps signing during the grace period."""
        subscription = await existing(name)
        if subscription.webhook is None:
            raise Problem(409, "not-a-webhook", "Not a webhook subscription",
                          f"Subscription {name!r} delivers to a stream; it has no secret.")  # fmt: skip
        secret = WebhookSecret(value=generate_secret())
        try:
            await store.rotate_secret(name, secret, settings.webhook_secret_grace_s)
        except (RedisError, OSError) as error:
            raise _unavailable(error) from error
        return {"secret": secret.value, "previous_valid_until": time.time() + settings.webhook_secret_grace_s}

    @router.get(
        "/{name}/events",
        response_class=Response,
        responses={200: {"content": {"text/event-stream": {}}, "description": "The live event stream."}},
    )
    async def follow_subscription(
        name: str,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        after: Annotated[
            str | None, Query(description="Entry id to resume after (as Last-Event-ID).")
        ] = None,
    ) -> Response:
        """Server-Sent Events of the subscription's stream: ``id`` is the entry id, ``event`` the
        event name, ``data`` the ninjs article. Resume with ``Last-Event-ID``."""
        subscription = await existing(name)
        resume = last_event_id or after
        if resume is not None and not ENTRY_ID.match(resume):
            raise Problem(400, "invalid-event-id", "Invalid event id",
                          f"{resume!r} is not a stream entry id (<milliseconds>-<sequence>).")  # fmt: skip
        if events is None:
            raise _unavailable(RuntimeError("no event source"))
        return event_response(events, subscription.stream, resume)

    return router


def subscription_routes(
    settings: Settings, redis: aioredis.Redis | None, store: SubscriptionStore | None = None
) -> APIRouter:
    """The router with its parts: the given store, else Redis when there is a client, else memory."""
    if store is None:
        store = RedisSubscriptionStore(redis) if redis is not None else InMemorySubscriptionStore()
    return subscription_router(settings, store, RedisEventSource(redis) if redis is not None else None)
