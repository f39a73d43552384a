"""The ops subcommands of ``newswire``: argument parsing and dispatch (the work is in the modules)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fileinput
import json
import sys
from typing import Any

import redis.asyncio as aioredis
from rich.console import Console

from services.ops import dlq, logs, status
from services.ops.runstate import resolve_redis_url
from services.replay import ReplayError
from shared.settings import Settings
from shared.stage import make_broker

COMMANDS = ("status", "dlq", "logs")


def add_commands(commands: Any) -> None:
    """Register ``status``, ``dlq`` and ``logs`` on the ``newswire`` subparsers."""
    status_parser = commands.add_parser("status", help="stage streams, groups, lag, dead letters, readiness")
    status_parser.add_argument("--json", action="store_true", help="one JSON document for scripts")
    status_parser.add_argument("--intake", help="intake's base URL (default: from NEWSWIRE_HTTP_*)")

    dlq_parser = commands.add_parser(
        "dlq", help="list, show, replay or drop dead letters of a stage or of webhook deliveries"
    )
    actions = dlq_parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="dead letters of one stage, of webhooks, or of all")
    listing.add_argument("stage", nargs="?", choices=dlq.SOURCES)
    listing.add_argument("--subscription", help="only this subscription's webhook letters")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one dead letter with its error and payload (JSON)")
    show.add_argument("stage", choices=dlq.SOURCES)
    show.add_argument("id")
    replay_help = "a stage's letter: publish again to its input stream; a webhook letter: deliver again"
    for name, text in (("replay", replay_help), ("drop", "delete for good")):
        action = actions.add_parser(name, help=text)
        action.add_argument("stage", choices=dlq.SOURCES)
        action.add_argument("ids", nargs="*", help="dead-letter ids (see `dlq list`)")
        action.add_argument("--all", action="store_true", help="every dead letter of the stage")

    logs_parser = commands.add_parser("logs", help="pretty-print JSON log lines from files or stdin")
    logs_parser.add_argument("files", nargs="*", help="log files (default: stdin)")
    logs_parser.add_argument("--service")
    logs_parser.add_argument("--level", choices=logs.LEVELS, help="lowest level shown")
    logs_parser.add_argument("--article", help="only lines about this article id")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "logs":
        wanted = logs.LogFilter(args.service, args.level, args.article)
        with fileinput.input(args.files or ("-",), encoding="utf-8", errors="replace") as lines:
            logs.print_logs(lines, wanted, Console(file=sys.stdout))
        return 0
    try:
        redis_url = resolve_redis_url(settings)
    except RuntimeError as error:
        print(f"newswire {args.command}: {error}", file=sys.stderr)
        return 2
    if args.command == "status":
        intake = args.intake or f"http://{settings.http_host}:{settings.http_port}"
        return status.run_status(redis_url, intake, as_json=args.json, out=sys.stdout)
    try:
        return asyncio.run(_dlq(args, settings.with_redis(redis_url)))
    except (LookupError, ValueError, ReplayError) as error:
        print(f"newswire dlq: {error}", file=sys.stderr)
        return 1


async def _dlq(args: argparse.Namespace, settings: Settings) -> int:
    client = aioredis.Redis.from_url(settings.resolved_redis_url)
    console = Console(file=sys.stdout)
    try:
        if args.action == "list":
            sources = [args.stage] if args.stage else [dlq.WEBHOOKS] if args.subscription else dlq.SOURCES
            letters = [
                letter
                for stage in sources
                for letter in await dlq.list_letters(client, stage, args.limit, args.subscription)
            ]
            if args.json:
                print(json.dumps([letter.summary() for letter in letters], indent=2))
            else:
                dlq.render_list(letters, console)
            return 0
        if args.action == "show":
            letter = await dlq.get_letter(client, args.stage, args.id)
            if letter is None:
                raise LookupError(f"no dead letter {args.id} for {args.stage}")
            print(json.dumps(letter.detail(), indent=2, ensure_ascii=False))
            return 0
        if not args.ids and not args.all:
            raise ValueError("name dead-letter ids, or --all")
        if args.action == "drop":
            dropped = await dlq.drop(client, args.stage, args.ids, every=args.all)
            print(f"dropped {len(dropped)} dead letter(s) of {args.stage}")
            return 0
        broker = make_broker(settings)
        await broker.connect()
        try:
            replayed = await dlq.replay(
                client, dlq.BrokerRepublisher(broker), args.stage, args.ids, every=args.all
            )
        finally:
            with contextlib.suppress(Exception):
                await broker.stop()
        print(f"replayed {len(replayed)} dead letter(s) of {args.stage}")
        return 0
    finally:
        await client.aclose()
