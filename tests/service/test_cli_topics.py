"""`newswire topics`: the slugs a subscriber can follow."""

from __future__ import annotations

import pytest

from services.cli import main

pytestmark = pytest.mark.service


def test_topic_kind_lists_the_iptc_top_level_slugs(capsys: pytest.CaptureFixture[str]) -> None:
    """--kind topic lists the 17 IPTC top-level topics, politics among them, one slug a line."""
    assert main(["topics", "--kind", "topic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    slugs = [line.split("\t")[0] for line in lines]
    assert len(slugs) == 17
    assert "politics" in slugs


def test_search_finds_a_country_by_its_slug(capsys: pytest.CaptureFixture[str]) -> None:
    """Kazakhstan is followable as place:KZ."""
    assert main(["topics", "--kind", "place", "--search", "place:KZ"]) == 0
    assert capsys.readouterr().out.startswith("place:KZ\t")
