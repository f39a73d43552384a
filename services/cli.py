"""The ``newswire`` command: run a service, the whole stack, or the pipeline in one process."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from services import replay
from services.ops import commands as ops
from shared.collector import tune_collector
from shared.logging import configure_logging
from shared.settings import Settings

CONSUMERS = ("tagger", "dedup", "pusher")


def _run_consumer(name: str, settings: Settings) -> int:
    # Imported by name: each service process loads only its own code (the tagger's is large).
    service = importlib.import_module(f"services.{name}.service")
    app = service.create_app(settings)
    tune_collector(settings.gc_threshold)
    asyncio.run(app.run())
    return 0


def _run_intake(settings: Settings) -> int:
    import uvicorn

    from services.intake.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our structlog handler on the root logger formats uvicorn's lines
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to whatever
    # handler was there before; make that a no-op so a clean shutdown exits 0, not -15.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    tune_collector(settings.gc_threshold)
    uvicorn.Server(config).run()
    return 0


def _list_topics(kind: str | None, search: str | None, out: TextIO) -> int:
    """Every followable slug with what it stands for; entity slugs are ``kind:ID``."""
    from services.tagger.tagging import topic_catalogue

    needle = search.casefold() if search else None
    for slug, description in topic_catalogue():
        slug_kind = slug.partition(":")[0] if ":" in slug else "topic"
        if kind and slug_kind != kind:
            continue
        if needle and needle not in slug.casefold() and needle not in description.casefold():
            continue
        out.write(f"{slug}\t{description}\n")
    return 0


def _story(ref: str, json_output: bool, settings: Settings) -> int:
    from services.ops.runstate import resolve_redis_url
    from services.ops.story import run_story

    try:
        redis_url = resolve_redis_url(settings)
    except RuntimeError as error:
        print(f"newswire story: {error}", file=sys.stderr)
        return 2
    return run_story(redis_url, ref, json_output=json_output, out=sys.stdout, err=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newswire", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run Redis (embedded if needed) and the four services")
    up.add_argument("--demo", action="store_true", help="feed the bundled sample wire through once")
    commands.add_parser("intake", help="run the HTTP intake service")
    for name in CONSUMERS:
        commands.add_parser(name, help=f"run the {name} service")
    process = commands.add_parser(
        "process", help="run the stage functions in this process, one JSON line per input item"
    )
    process.add_argument("paths", nargs="*", default=["-"], help="files, or - for JSONL on stdin")
    topics = commands.add_parser("topics", help="list the topic slugs subscribers can follow")
    topics.add_argument("--kind", choices=("topic", "person", "org", "place"), help="only this kind")
    topics.add_argument("--search", help="only slugs or descriptions containing this text")
    story = commands.add_parser("story", help="list the articles of a story with their sources and verdicts")
    story.add_argument("id", help="a story id or the id of any article in the story")
    story.add_argument("--json", action="store_true", help="one JSON document for scripts")
    ops.add_commands(commands)
    replay.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    service = args.command
    configure_logging(service, level=settings.log_level, log_format=settings.log_format)
    if service == "up":
        from services.up import run_stack

        return run_stack(settings, demo=args.demo)
    if service == "process":
        from services.process import run_process

        return run_process(args.paths, settings, sys.stdin.buffer, sys.stdout)
    if service == "topics":
        return _list_topics(args.kind, args.search, sys.stdout)
    if service == "story":
        return _story(args.id, args.json, settings)
    if service == "replay":
        return replay.run_replay(args, settings)
    if service in ops.COMMANDS:
        return ops.run(args, settings)
    if service == "intake":
        return _run_intake(settings)
    return _run_consumer(service, settings)


if __name__ == "__main__":
    sys.exit(main())
