"""Stream ids, lag from the ends of a stream, and the safe trim point (shared/streams.py)."""

from __future__ import annotations

import pytest

from shared.messages import ARTICLES_DUPLICATES, ARTICLES_TAGGED
from shared.streams import GroupStats, StreamStats, lag_shortcut, next_id, parse_id, safe_trim_id

pytestmark = pytest.mark.unit

FAR_FUTURE = "99999999999999-0"


def _group(last_delivered: str, oldest_pending: str | None = None, pending: int = 0) -> GroupStats:
    return GroupStats("g", last_delivered, pending, None, False, oldest_pending, ())


def _stream(groups: tuple[GroupStats, ...], name: str = ARTICLES_TAGGED) -> StreamStats:
    return StreamStats(name, True, 10, "100-0", "200-0", groups)


def test_ids_compare_numerically_not_as_text() -> None:
    """'99-0' is older than '100-0' although it sorts after it as text; a bare id has sequence 0."""
    assert parse_id("99-0") < parse_id("100-0")
    assert parse_id("5") == (5, 0)
    assert next_id("5-1") == "5-2"


def test_lag_follows_from_the_stream_ends_when_the_group_is_at_either_end() -> None:
    """Read past the last entry: lag 0; not yet at the first: the whole length; between: unknown."""
    assert lag_shortcut("200-0", "100-0", "200-0", 10) == 0
    assert lag_shortcut("0-0", "100-0", "200-0", 10) == 10
    assert lag_shortcut("150-0", "100-0", "200-0", 10) is None
    assert lag_shortcut("0-0", None, None, 0) == 0


def test_trim_stops_at_the_oldest_pending_entry() -> None:
    """A group done reading but still holding 120-0 keeps everything from 120-0 on."""
    assert safe_trim_id(_stream((_group("200-0", "120-0", 1),)), age_floor_id=FAR_FUTURE) == "120-0"


def test_trim_stops_at_the_first_unread_entry() -> None:
    """A group that read up to 150-0 keeps everything after it."""
    assert safe_trim_id(_stream((_group("150-0"),)), age_floor_id=FAR_FUTURE) == "150-1"


def test_the_slowest_group_and_the_retention_window_win() -> None:
    """With two groups, the one further behind bounds the trim; a younger age floor bounds it more."""
    groups = (_group("180-0"), _group("130-0"))
    assert safe_trim_id(_stream(groups), age_floor_id=FAR_FUTURE) == "130-1"
    assert safe_trim_id(_stream(groups), age_floor_id="110-0") == "110-0"


def test_nothing_is_trimmed_when_the_bound_is_at_or_before_the_first_entry() -> None:
    """A group that has read nothing (last-delivered 0-0) protects the whole stream."""
    assert safe_trim_id(_stream((_group("0-0"),)), age_floor_id=FAR_FUTURE) is None


def test_a_stream_without_groups_is_trimmed_only_when_it_is_an_audit_stream() -> None:
    """articles.duplicates (no reader by design) is trimmed by age; a stage stream without a group is
    not touched: its group may simply not have been created yet."""
    assert safe_trim_id(_stream((), name=ARTICLES_DUPLICATES), age_floor_id="150-0") == "150-0"
    assert safe_trim_id(_stream(()), age_floor_id="150-0") is None
