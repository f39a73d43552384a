"""``newswire replay``: send webhook deliveries again, and re-enable their endpoint.

Resends one delivery (``--entry``, the entry id in ``newswire:sub:<name>``, as the dead-letter
stream ``newswire:dlq:webhooks`` records it) or every delivery of a subscription since a time
(``--since``). Each is scheduled for now with a fresh retry schedule; the running pusher sends
them. The ``webhook-id`` is the one of the first attempt, so a receiver that deduplicates by it
ignores what it already has. Works only for entries still within the subscriber stream retention.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog

from shared.settings import Settings
from shared.subscriptions import RedisSubscriptionStore, webhook_keys

ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
PAGE = 1000

log = structlog.stdlib.get_logger("newswire.replay")


class ReplayError(Exception):
    """The replay cannot be done (the message says why)."""


def parse_since(value: str, now: float | None = None) -> float:
    """Epoch seconds from an ISO 8601 time, epoch seconds, or an age like ``90m``, ``6h``, ``2d``."""
    value = value.strip()
    age = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value)
    if age:
        seconds = float(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86_400}[age.group(2)]
        return (time.time() if now is None else now) - seconds
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ReplayError(f"--since {value!r}: not an ISO 8601 time, epoch seconds or an age (6h)") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def replay(
    client: aioredis.Redis,
    name: str,
    *,
    entry_ids: Sequence[str] = (),
    since: float | None = None,
    now: float | None = None,
) -> int:
    """Schedule deliveries of subscription ``name`` for now; the number scheduled."""
    subscription = await RedisSubscriptionStore(client).get(name)
    if subscription is None:
        raise ReplayError(f"no subscription {name!r}")
    if subscription.webhook is None:
        raise ReplayError(f"subscription {name!r} delivers to a stream: read {subscription.stream} instead")
    if bool(entry_ids) == (since is not None):
        raise ReplayError("give either entry ids or a time to replay since")
    ids: list[str] = []
    for entry_id in entry_ids:
        if not ENTRY_ID.match(entry_id) or not await client.xrange(subscription.stream, entry_id, entry_id):
            raise ReplayError(f"no entry {entry_id!r} in {subscription.stream} (trimmed, or a wrong id)")
        ids.append(entry_id)
    if since is not None:
        start = f"{int(since * 1000)}-0"
        while True:
            page: Any = await client.xrange(subscription.stream, start, "+", count=PAGE)
            ids.extend(raw_id.decode() for raw_id, _ in page)
            if len(page) < PAGE:
                break
            start = "(" + page[-1][0].decode()  # exclusive start (Redis >= 6.2)
    keys = webhook_keys(name)
    due = time.time() if now is None else now
    async with client.pipeline(transaction=True) as pipe:
        if ids:
            pipe.zadd(keys["retries"], dict.fromkeys(ids, due))
            pipe.hdel(keys["attempts"], *ids)
        # Replaying is how an operator says the endpoint is fixed: enable it again.
        pipe.hdel(keys["endpoint"], "disabled_at", "disabled_reason", "failing_since")
        await pipe.execute()
    log.info("webhook.replayed", subscription=name, deliveries=len(ids))
    return len(ids)


def add_parser(commands: Any) -> None:
    """Register ``replay`` on the ``newswire`` command's subparsers."""
    parser = commands.add_parser(
        "replay", help="resend webhook deliveries of a subscription (and re-enable its endpoint)"
    )
    parser.add_argument("subscription", help="the subscription's name")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--entry", action="append", default=[], help="entry id to resend (repeatable)")
    which.add_argument("--since", help="resend all since: ISO 8601 time, epoch seconds, or an age (6h)")


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """The ``replay`` subcommand; prints how many deliveries were scheduled."""

    async def go() -> int:
        client = aioredis.Redis.from_url(settings.resolved_redis_url)
        try:
            since = parse_since(args.since) if args.since else None
            return await replay(client, args.subscription, entry_ids=args.entry, since=since)
        finally:
            await client.aclose()

    try:
        count = asyncio.run(go())
    except ReplayError as error:
        log.error("webhook.replay_refused", subscription=args.subscription, error=str(error))
        print(f"newswire replay: {error}", file=sys.stderr)
        return 2
    print(f"scheduled {count} deliveries of {args.subscription} for resending")
    return 0
