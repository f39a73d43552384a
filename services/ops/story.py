"""``newswire story <id>``: the articles of one story, with their outlets and verdicts.

``id`` is a story id (the id of the story's first article) or the id of any article in it. Reads the
dedup story store in Redis, so it sees stories judged within the dedup window.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TextIO

import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

from services.dedup.stories import RedisStoryStore, StoryMember, StoryStore


async def find_story(stories: StoryStore, ref: str) -> tuple[str, list[StoryMember]] | None:
    """The story named ``ref``, else the story the article ``ref`` belongs to, with its members."""
    members = await stories.members(ref)
    if members:
        return ref, members
    story_id = await stories.story_of(ref)
    if story_id is None:
        return None
    members = await stories.members(story_id)
    return (story_id, members) if members else None


def as_json(story_id: str, members: list[StoryMember]) -> dict[str, Any]:
    return {"story_id": story_id, "articles": [asdict(member) for member in members]}


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(story_id: str, members: list[StoryMember], console: Console) -> None:
    table = Table(title=f"story {story_id}")
    for column in ("article", "version", "source", "verdict", "judged (UTC)"):
        table.add_column(column)
    for member in members:
        table.add_row(
            member.article_id, str(member.version), member.source or "-", member.verdict, _time(member.at)
        )
    console.print(table)


async def _lookup(redis_url: str, ref: str) -> tuple[str, list[StoryMember]] | None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        # The window only matters for writes; reading needs none.
        return await find_story(RedisStoryStore(client, window_seconds=1), ref)
    finally:
        await client.aclose()


def run_story(redis_url: str, ref: str, *, json_output: bool, out: TextIO, err: TextIO) -> int:
    """Print the story; 1 when no story or article of that id was judged within the window."""
    found = asyncio.run(_lookup(redis_url, ref))
    if found is None:
        err.write(f"newswire story: no story or article {ref} (unknown, or older than the dedup window)\n")
        return 1
    story_id, members = found
    if json_output:
        out.write(json.dumps(as_json(story_id, members), ensure_ascii=False, indent=2) + "\n")
    else:
        render(story_id, members, Console(file=out))
    return 0
