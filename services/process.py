"""``newswire process``: the stage functions in one process, one JSON line per input item.

The same functions the services run (intake's reading, the tagger, dedup's verdict), with an
in-memory dedup index instead of Redis. stdout carries only the result lines; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog

from services.dedup.near import InMemoryNearIndex, InMemorySentenceFrequency, NearDuplicateDetector
from services.dedup.stories import InMemoryStoryStore
from services.dedup.verdict import Deduplicator
from services.intake.normalise import InputError, InputKind, read_input
from services.tagger.service import build_tagger, tag_received
from services.tagger.tagging import Tagger
from shared.messages import ArticleReceived
from shared.ninjs import to_ninjs
from shared.settings import Settings

log = structlog.stdlib.get_logger("newswire.process")

_KIND_BY_SUFFIX: dict[str, InputKind] = {
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".json": "json",
}


@dataclass(frozen=True)
class InputItem:
    """One item to process: where it came from (for errors) and its raw bytes."""

    origin: str
    kind: InputKind | None
    data: bytes
    error: str | None = None


def _jsonl_items(origin: str, stream: IO[bytes]) -> Iterator[InputItem]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield InputItem(f"{origin}:{number}", "json", line)


def read_items(paths: Sequence[str], stdin: IO[bytes]) -> Iterator[InputItem]:
    """Items in input order: files by their suffix, ``-`` and ``.jsonl`` as one JSON item a line."""
    for path in paths:
        if path == "-":
            yield from _jsonl_items("<stdin>", stdin)
            continue
        file = Path(path)
        try:
            if file.suffix.lower() == ".jsonl":
                with file.open("rb") as handle:
                    yield from _jsonl_items(path, handle)
                continue
            kind = _KIND_BY_SUFFIX.get(file.suffix.lower())
            if kind is None:
                yield InputItem(path, None, b"", "unknown file type (use .html .txt .json .jsonl)")
                continue
            yield InputItem(path, kind, file.read_bytes())
        except OSError as error:
            yield InputItem(path, None, b"", f"cannot read: {error.strerror or error}")


def rejected(item: InputItem, error: Exception | str) -> dict[str, Any]:
    return {
        "id": None,
        "status": "rejected",
        "duplicate_of": None,
        "story_id": None,
        "article": None,
        "entities": [],
        "error": f"{item.origin}: {error}",
    }


def in_memory_deduplicator(window_seconds: float) -> Deduplicator:
    """The dedup service's detector and story store, in this process's memory."""
    detector = NearDuplicateDetector(
        InMemoryNearIndex(window_seconds), InMemorySentenceFrequency(window_seconds)
    )
    return Deduplicator(detector, InMemoryStoryStore(window_seconds))


async def process_item(item: InputItem, tagger: Tagger, deduplicator: Deduplicator) -> dict[str, Any]:
    if item.kind is None:
        return rejected(item, item.error or "unreadable")
    try:
        article = read_input(item.kind, item.data)
    except InputError as error:
        return rejected(item, error)
    tagged = tag_received(ArticleReceived(article=article), tagger)
    judged = await deduplicator.judge(tagged)
    return {
        "id": article.id,
        "status": judged.verdict.status,
        "duplicate_of": judged.verdict.duplicate_of,
        "story_id": judged.verdict.story_id,
        "article": to_ninjs(article, judged.tags, judged.verdict),
        "entities": [entity.model_dump() for entity in judged.tags.entities],
        "error": None,
    }


async def process_all(items: Iterator[InputItem], tagger: Tagger, out: IO[str], window_seconds: float) -> int:
    deduplicator = in_memory_deduplicator(window_seconds)
    count = 0
    for item in items:
        line = await process_item(item, tagger, deduplicator)
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
        count += 1
    return count


def run_process(paths: Sequence[str], settings: Settings, stdin: IO[bytes], stdout: IO[str]) -> int:
    tagger = build_tagger(settings)
    window = settings.dedup_window_hours * 3600
    count = asyncio.run(process_all(read_items(paths, stdin), tagger, stdout, window))
    log.info("process.finished", items=count)
    return 0
