"""`newswire process`: the stage functions in one process, one JSON line per input item, in order."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from services.process import run_process
from shared.settings import Settings

pytestmark = pytest.mark.service

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
KEYS = {"id", "status", "duplicate_of", "story_id", "article", "entities", "error"}


def _run(paths: list[str], stdin: bytes = b"") -> list[dict]:
    out = io.StringIO()
    assert run_process(paths, Settings(), io.BytesIO(stdin), out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_samples_give_one_line_each_in_input_order() -> None:
    """Every sample gives one line with the documented keys; the republished seed is a duplicate."""
    paths = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in {".txt", ".json", ".html"})
    lines = _run(paths)
    assert len(lines) == len(paths)
    assert all(set(line) == KEYS for line in lines)
    seed, republished = lines[0], lines[1]
    assert seed["status"] == "unique" and seed["story_id"] == seed["id"]
    assert republished["status"] == "duplicate"
    assert republished["duplicate_of"] == seed["id"]
    assert seed["article"]["language"] == "de"
    assert [line["status"] for line in lines[2:]] == ["unique"] * (len(lines) - 2)


def test_entities_carry_offsets_into_the_published_text() -> None:
    """Each entity's offsets cut exactly its text out of the published headline or body."""
    (line,) = _run([str(SAMPLES / "01_seed_deutsche_tageszeitung.txt")])
    article = line["article"]
    texts = {"headline": article["headlines"][0]["value"], "body": article["bodies"][0]["value"]}
    assert line["entities"]
    for entity in line["entities"]:
        assert texts[entity["field"]][entity["start"] : entity["end"]] == entity["text"]


def test_bad_items_are_rejected_in_place_and_the_rest_go_on() -> None:
    """A malformed line and an unknown file each give a 'rejected' line with an error, in order."""
    good = json.dumps({"headline": "Storm hits coast", "body": "Strong winds hit the coast on Friday."})
    lines = _run(["-", "missing.xyz"], stdin=f"{good}\n{{not json\n".encode())
    assert [line["status"] for line in lines] == ["unique", "rejected", "rejected"]
    assert "JSON" in lines[1]["error"] and "<stdin>:2" in lines[1]["error"]
    assert "missing.xyz" in lines[2]["error"]


def test_the_seed_page_carries_its_expected_reading_in_the_published_document() -> None:
    """The scraped seed page, read and tagged by `newswire process`, names at least the people,
    places and organisations of its expected reading and carries its top-level IPTC topics."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "tagging"
    expected = json.loads((fixtures / "000_f9cc83e86fb4ea15.expected.json").read_text(encoding="utf-8"))
    (line,) = _run([str(SAMPLES / "01_seed_deutsche_tageszeitung.txt")])
    article = line["article"]
    for kind in ("people", "places", "organisations"):
        names = {ref["name"] for ref in article.get(kind, [])} | {e["text"] for e in line["entities"]}
        for wanted in expected["entities_expected_at_least"][kind]:
            parts = re.fullmatch(r"(.+) \((.+)\)", wanted)  # "Long Name (ABBR)": both parts
            assert ({parts.group(1), parts.group(2)} if parts else {wanted}) <= names, (kind, wanted)
    codes = {subject.get("literal") for subject in article["subjects"] if subject["rel"] == "about"}
    for topic in expected["iptc_top_level_expected"]:
        code = re.search(r"medtop:\d+", topic)
        assert code is not None and code.group() in codes, topic
