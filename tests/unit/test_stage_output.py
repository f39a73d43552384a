"""What a stage publishes for an output (the event, or its input's JSON with members added), and
the name its process reads under."""

from __future__ import annotations

import json
import os

import pytest

from services.dedup.service import result_for
from shared.messages import ArticleDeduplicated, ArticleTagged, Verdict
from shared.stage import Output, consumer_name, with_members
from tests import factories

pytestmark = pytest.mark.unit


def test_members_are_added_at_the_end_of_the_object() -> None:
    """The object keeps its members as written and gains the new ones, valid JSON."""
    verdict = Verdict(status="unique", story_id="s1")
    spliced = with_members(b'{"a": 1, "b": [2, {"c": "}"}]}\n', {"verdict": verdict})
    assert json.loads(spliced) == {"a": 1, "b": [2, {"c": "}"}], "verdict": verdict.model_dump()}


def test_members_are_added_to_an_empty_object() -> None:
    """An empty object gets no stray comma."""
    verdict = Verdict(status="unique", story_id="s1")
    assert json.loads(with_members(b" { } ", {"v": verdict})) == {"v": verdict.model_dump()}


@pytest.mark.parametrize("document", [b"[1, 2]", b'"text"', b'{"a": 1', b""])
def test_a_document_that_is_no_object_is_refused(document: bytes) -> None:
    """Only a JSON object can gain members."""
    with pytest.raises(ValueError, match="not a JSON object"):
        with_members(document, {"v": Verdict(status="unique", story_id="s1")})


def test_an_output_without_additions_publishes_its_event() -> None:
    """The usual output: the event itself, for the broker to encode."""
    event = ArticleTagged(article=factories.article("a1"), tags=factories.tags())
    assert Output("s", event, "a1").body(b"{}") is event


def test_dedup_publishes_the_tagged_article_it_read_with_its_verdict() -> None:
    """Dedup's output is its input's JSON plus the verdict, and decodes to the judged article."""
    tagged = ArticleTagged(
        article=factories.article("a1", source="Outlet A"), tags=factories.tags(keywords=("Brücke",))
    )
    read = tagged.model_dump_json(indent=1).encode()  # as written by someone else: other spacing
    judged = ArticleDeduplicated(
        article=tagged.article,
        tags=tagged.tags,
        verdict=Verdict(status="duplicate", story_id="a0", duplicate_of="a0"),
    )
    (output,) = result_for(judged).outputs
    body = output.body(read)
    assert isinstance(body, bytes)
    assert ArticleDeduplicated.model_validate_json(body) == judged


def test_a_consumer_name_is_this_process_unless_another_is_named() -> None:
    """Named after the service and the process: another process's name can be told from its pid
    (the scale benchmark reads a dedup process's heartbeat by it)."""
    assert consumer_name("dedup") == consumer_name("dedup", os.getpid())
    other = consumer_name("dedup", 4242)
    assert other.startswith("dedup-") and other.endswith("-4242")
    assert consumer_name("dedup", 4242) != consumer_name("tagger", 4242)
