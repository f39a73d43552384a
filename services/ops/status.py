"""``newswire status``: what every stage stream, group, consumer, dead-letter stream and service is doing.

Gathering reads Redis only (XINFO, XPENDING, XLEN, heartbeats) plus intake's ``/healthz``;
``build_report`` turns those facts into one JSON-ready dict, ``render`` draws it with rich.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TextIO

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from services.ops.runstate import redact_url
from services.pusher.webhooks import DEAD_LETTER_STAGE as WEBHOOK_DEAD_LETTERS
from services.pusher.webhooks import GROUP as WEBHOOK_GROUP
from shared.health import CONSUMER_SERVICES, Heartbeat, read_heartbeats, readiness
from shared.messages import (
    ARTICLES_DUPLICATES,
    ARTICLES_RECEIVED,
    ARTICLES_TAGGED,
    ARTICLES_UNIQUE,
    dead_letter_stream,
)
from shared.streams import StreamInspector, StreamStats
from shared.subscriptions import RedisSubscriptionStore, Subscription, webhook_keys

STAGE_STREAMS = (ARTICLES_RECEIVED, ARTICLES_TAGGED, ARTICLES_UNIQUE, ARTICLES_DUPLICATES)
DEAD_LETTER_STAGES = (*CONSUMER_SERVICES, WEBHOOK_DEAD_LETTERS)


def subscription_health(
    subscription: Subscription,
    stream: StreamStats,
    *,
    retries_scheduled: int,
    endpoint: dict[str, str],
    now: float,
) -> dict[str, Any]:
    """How one subscription's delivery stands: its stream and, for a webhook, the endpoint.

    ``healthy`` is false when the webhook endpoint is disabled or is failing (no success since
    its first failure); lag, pending and scheduled retries say how far behind it is.
    """
    health: dict[str, Any] = {
        "name": subscription.name,
        "delivery": "webhook" if subscription.webhook else "stream",
        "stream": stream.name,
        "length": stream.length,
        "healthy": True,
    }
    if subscription.webhook is None:
        return health
    group = next((g for g in stream.groups if g.name == WEBHOOK_GROUP), None)
    failing_since = float(endpoint["failing_since"]) if endpoint.get("failing_since") else None
    disabled = bool(endpoint.get("disabled_at"))
    health.update(
        host=subscription.webhook.host,
        lag=group.lag if group else None,
        pending=group.pending if group else 0,
        retries_scheduled=retries_scheduled,
        failing_for_s=round(now - failing_since, 1) if failing_since else None,
        disabled=disabled,
        disabled_reason=endpoint.get("disabled_reason"),
    )
    health["healthy"] = not disabled and failing_since is None
    return health


def build_report(
    streams: Sequence[StreamStats],
    dead_letters: dict[str, int],
    heartbeats: Sequence[Heartbeat],
    *,
    now: float,
    intake: dict[str, Any] | None = None,
    subscriptions: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """One JSON-ready report; ``ready`` is true when every consumer service has a ready replica."""
    services = readiness(heartbeats, CONSUMER_SERVICES)
    ages = {beat.consumer: round(now - beat.at, 1) for beat in heartbeats}
    for entry in services.values():
        entry["replicas"] = {
            consumer: {"subscribers": subscribers, "heartbeat_age_s": ages.get(consumer)}
            for consumer, subscribers in entry["replicas"].items()
        }
    stages = []
    for stream in streams:
        groups = []
        for group in stream.groups:
            raw = asdict(group)
            raw["consumers"] = [
                {"name": c.name, "pending": c.pending, "idle_s": round(c.idle_ms / 1000, 1)}
                for c in group.consumers
            ]
            groups.append(raw)
        stages.append(
            {"stream": stream.name, "exists": stream.exists, "length": stream.length, "groups": groups}
        )
    report: dict[str, Any] = {
        "ready": all(entry["ready"] for entry in services.values()),
        "services": services,
        "stages": stages,
        "dead_letters": dead_letters,
        "subscriptions": list(subscriptions),
    }
    if intake is not None:
        report["intake"] = intake
    return report


async def gather(client: aioredis.Redis) -> tuple[list[StreamStats], dict[str, int], list[Heartbeat]]:
    inspector = StreamInspector(client)
    streams = await inspector.many(STAGE_STREAMS)
    dead = {stage: int(await client.xlen(dead_letter_stream(stage))) for stage in DEAD_LETTER_STAGES}
    return streams, dead, await read_heartbeats(client)


async def gather_subscriptions(client: aioredis.Redis, now: float) -> list[dict[str, Any]]:
    """Delivery health of every subscription (stream stats, webhook retries and endpoint state)."""
    inspector = StreamInspector(client)
    healths = []
    for subscription in await RedisSubscriptionStore(client).list():
        (stats,) = await inspector.many([subscription.stream])
        keys = webhook_keys(subscription.name)
        endpoint = {
            _text(key): _text(value) for key, value in (await client.hgetall(keys["endpoint"])).items()
        }
        healths.append(
            subscription_health(
                subscription,
                stats,
                retries_scheduled=int(await client.zcard(keys["retries"])),
                endpoint=endpoint,
                now=now,
            )
        )
    return healths


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def probe_intake(base_url: str, timeout: float = 1.0) -> dict[str, Any]:
    """Whether intake answers ``/healthz`` (it has no heartbeat: it is an HTTP server)."""
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout) as response:  # noqa: S310 (operator's URL)
            return {"url": base_url, "live": response.status == 200}
    except (OSError, urllib.error.URLError) as error:
        return {"url": base_url, "live": False, "error": str(error)}


async def collect(redis_url: str, intake_url: str | None) -> dict[str, Any]:
    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=5)
    now = time.time()
    try:
        streams, dead, beats = await gather(client)
        subscriptions = await gather_subscriptions(client, now)
    finally:
        await client.aclose()
    intake = await asyncio.to_thread(probe_intake, intake_url) if intake_url else None
    report = build_report(streams, dead, beats, now=now, intake=intake, subscriptions=subscriptions)
    report["redis"] = redact_url(redis_url)
    return report


def _yes(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]no[/red]"


def render(report: dict[str, Any], console: Console) -> None:
    """Tables: services, stage streams with their groups and consumers, subscriptions, dead letters."""
    services = Table(title="Services", title_justify="left")
    for column in ("service", "ready", "replicas", "heartbeat age (s)"):
        services.add_column(column)
    for name, entry in report["services"].items():
        replicas = entry["replicas"]
        ages = ", ".join(str(r["heartbeat_age_s"]) for r in replicas.values()) or "-"
        services.add_row(name, _yes(entry["ready"]), str(len(replicas)), ages)
    if "intake" in report:
        intake = report["intake"]
        services.add_row("intake", _yes(intake["live"]), "-", "live" if intake["live"] else "unreachable")
    console.print(services)

    stages = Table(title="Stage streams", title_justify="left")
    for column in ("stream", "length", "group", "lag", "pending", "consumer", "idle (s)", "held"):
        stages.add_column(column, justify="right" if column in {"length", "lag", "pending"} else "left")
    for stage in report["stages"]:
        if not stage["groups"]:
            stages.add_row(stage["stream"], str(stage["length"]), "-", "-", "-", "-", "-", "-")
        for group in stage["groups"]:
            lag = f">={group['lag']}" if group["lag_capped"] else str(group["lag"])
            consumers = group["consumers"] or [{"name": "-", "idle_s": "-", "pending": "-"}]
            for index, consumer in enumerate(consumers):
                first = index == 0
                stages.add_row(
                    stage["stream"] if first else "",
                    str(stage["length"]) if first else "",
                    group["name"] if first else "",
                    lag if first else "",
                    str(group["pending"]) if first else "",
                    consumer["name"],
                    str(consumer["idle_s"]),
                    str(consumer["pending"]),
                )
    console.print(stages)

    if report["subscriptions"]:
        subs = Table(title="Subscriptions", title_justify="left")
        for column in ("name", "delivery", "stream length", "lag", "pending", "retries", "endpoint"):
            subs.add_column(column)
        for sub in report["subscriptions"]:
            endpoint = "-"
            if sub["delivery"] == "webhook":
                endpoint = (
                    f"[red]disabled: {sub['disabled_reason']}[/red]"
                    if sub["disabled"]
                    else f"[yellow]failing {sub['failing_for_s']} s[/yellow]"
                    if sub["failing_for_s"] is not None
                    else f"[green]ok[/green] {sub['host']}"
                )
            subs.add_row(
                sub["name"], sub["delivery"], str(sub["length"]), str(sub.get("lag", "-")),
                str(sub.get("pending", "-")), str(sub.get("retries_scheduled", "-")), endpoint,
            )  # fmt: skip
        console.print(subs)

    letters = Table(title="Dead letters", title_justify="left")
    letters.add_column("stage")
    letters.add_column("entries", justify="right")
    for stage, count in report["dead_letters"].items():
        letters.add_row(stage, f"[red]{count}[/red]" if count else "0")
    console.print(letters)
    console.print(f"redis {report.get('redis', '?')}  ready: {_yes(report['ready'])}")


def run_status(redis_url: str, intake_url: str | None, *, as_json: bool, out: TextIO) -> int:
    """Print the report; exit 0 when every service is ready, 1 when not, 2 when Redis is unreachable."""
    try:
        report = asyncio.run(collect(redis_url, intake_url))
    except (OSError, RedisError) as error:
        failure = {"ready": False, "error": f"Redis unreachable: {error}", "redis": redact_url(redis_url)}
        out.write(json.dumps(failure) + "\n" if as_json else f"Redis unreachable at {failure['redis']}\n")
        return 2
    if as_json:
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        # Piped output (a file, a pager) gets room for full stream and consumer names.
        render(report, Console(file=out, width=None if out.isatty() else 160))
    return 0 if report["ready"] else 1
