"""Tagger throughput on one core and the process's memory.

.venv/bin/python -m evaluation.tagging_speed
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from evaluation.common import DataMissingError, data_dir
from evaluation.tagging import read_10kgnad
from services.tagger.tagging import TAG_CHUNK, Tagger
from shared.messages import Article

ARTICLE_CHARS = 3_000


def _articles(data: Path) -> list[Article]:
    """10kGNAD texts cut or repeated to ~3,000 characters, first sentence as the headline."""
    path = data / "10kgnad" / "articles.csv"
    if not path.exists():
        raise DataMissingError(f"{path} is missing")
    articles = []
    for index, (_, text) in enumerate(read_10kgnad(path)):
        headline, _, rest = text.partition(". ")
        body = rest
        while len(body) < ARTICLE_CHARS:
            body = f"{body} {rest}"
        paragraphs = tuple(p for p in body[:ARTICLE_CHARS].split(". ") if p)
        # Three paragraphs of sentences, as intake would hand them over.
        third = max(1, len(paragraphs) // 3)
        joined = tuple(". ".join(paragraphs[i : i + third]) for i in range(0, len(paragraphs), third))
        articles.append(
            Article(
                id=f"speed-{index}",
                received_at=datetime.now(UTC),
                format="text",
                headline=headline[:200],
                body=joined,
            )
        )
    return articles


def run(data: Path) -> str:
    """Tagging speed (articles per second on one core) and resident memory, as Markdown."""
    articles = _articles(data)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    started = time.perf_counter()
    tagger = Tagger()
    load_seconds = time.perf_counter() - started
    timings = []
    cpu_timings = []
    for _ in range(2):  # the first pass fills the word caches (recogniser, topic rules)
        started = time.perf_counter()
        cpu_started = time.process_time()
        for article in articles:
            tagger.tag(article)
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.process_time() - cpu_started)
    # The service tags a read batch ``TAG_CHUNK`` articles at a time (``Tagger.tag_many``).
    cpu_started = time.process_time()
    for start in range(0, len(articles), TAG_CHUNK):
        tagger.tag_many(articles[start : start + TAG_CHUNK])
    chunked_cpu = time.process_time() - cpu_started
    rss_after = process.memory_info().rss
    size = sum(len(a.headline) + len(a.body_text) for a in articles) / len(articles)
    return "\n".join([
        "## Tagging speed",
        "",
        f"{len(articles)} 10kGNAD articles shaped to ~{size:,.0f} characters each, "
        "`Tagger.tag` in one process on one core (the machine is shared, so figures vary).",
        f"- building the tagger: {load_seconds:.1f} s",
        f"- first pass (cold word cache): **{len(articles) / timings[0]:,.0f} articles/s**",
        f"- second pass: **{len(articles) / timings[1]:,.0f} articles/s** (wall clock); "
        f"CPU time {1000 * cpu_timings[1] / len(articles):.2f} ms per article, "
        f"i.e. **{len(articles) / cpu_timings[1]:,.0f} articles/s** of CPU (other jobs on the machine "
        "inflate the wall-clock figure more than the CPU one)",
        f"- third pass, {TAG_CHUNK} articles a `Tagger.tag_many` call as the tagger service tags them: "
        f"CPU time {1000 * chunked_cpu / len(articles):.2f} ms per article, "
        f"i.e. **{len(articles) / chunked_cpu:,.0f} articles/s** of CPU",
        f"- resident memory: {rss_before / 1e6:,.0f} MB before building, "
        f"**{rss_after / 1e6:,.0f} MB** after tagging",
    ])  # fmt: skip


if __name__ == "__main__":
    print(run(data_dir()))
