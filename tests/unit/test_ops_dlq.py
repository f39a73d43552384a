"""Dead letters as `newswire dlq` reads them (services/ops/dlq.py)."""

from __future__ import annotations

import json

import pytest

from services.ops.dlq import StoredLetter, check_stage

pytestmark = pytest.mark.unit

FIELDS = {
    b"stage": b"dedup",
    b"stream": b"articles.tagged",
    b"entry_id": b"17-0",
    b"article_id": b"A1",
    b"error": b"Traceback (most recent call last):\n  ...\nValueError: cannot index A1",
    b"deliveries": b"5",
    b"payload": json.dumps({"article": {"id": "A1"}}).encode(),
    b"failed_at": b"1795826822.5",
}


def test_summary_shows_the_last_line_of_the_error_and_an_iso_time() -> None:
    """The list row carries the article, deliveries, when (ISO, UTC) and the error's last line."""
    summary = StoredLetter.from_entry(b"99-0", FIELDS).summary()
    assert summary == {
        "id": "99-0",
        "stage": "dedup",
        "article_id": "A1",
        "deliveries": 5,
        "failed_at": "2026-11-28T00:47:02+00:00",
        "error": "ValueError: cannot index A1",
    }


def test_detail_gives_the_payload_as_json_or_as_text_when_it_is_not() -> None:
    """`show` decodes a JSON payload; an undecodable one is shown as text, not an error."""
    assert StoredLetter.from_entry(b"99-0", FIELDS).detail()["payload"] == {"article": {"id": "A1"}}
    broken = StoredLetter.from_entry(b"99-0", {**FIELDS, b"payload": b"\x00not json"}).detail()
    assert broken["payload"] == "\x00not json"


def test_unknown_stage_is_refused() -> None:
    """Only the consumer stages have dead-letter streams."""
    assert check_stage("tagger") == "tagger"
    with pytest.raises(ValueError, match="unknown stage"):
        check_stage("intake")
