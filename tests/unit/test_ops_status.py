"""The status report and its table (services/ops/status.py) and URL redaction (services/ops/runstate.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from services.ops.runstate import redact_url, resolve_redis_url, write_embedded_url
from services.ops.status import build_report, render, subscription_health
from shared.health import Heartbeat
from shared.settings import Settings
from shared.streams import ConsumerStats, GroupStats, StreamStats
from shared.subscriptions import Subscription

pytestmark = pytest.mark.unit

STREAM = StreamStats(
    "articles.received",
    True,
    42,
    "1-0",
    "9-0",
    (GroupStats("tagger", "5-0", 3, 7, False, "4-0", (ConsumerStats("tagger-host-1", 3, 1500),)),),
)


def _beats(now: float) -> list[Heartbeat]:
    return [
        Heartbeat("tagger", "tagger-host-1", True, {"r": True}, now - 1),
        Heartbeat("dedup", "dedup-host-1", True, {"r": True}, now - 2),
        Heartbeat("pusher", "pusher-host-1", False, {"r": False}, now - 1),
    ]


def test_report_carries_lag_pending_consumers_dead_letters_and_readiness() -> None:
    """Per group its lag, pending and consumers with idle seconds; ready only when every service is."""
    report = build_report([STREAM], {"tagger": 2}, _beats(1000.0), now=1000.0)
    (stage,) = report["stages"]
    (group,) = stage["groups"]
    assert (stage["length"], group["lag"], group["pending"]) == (42, 7, 3)
    assert group["consumers"] == [{"name": "tagger-host-1", "pending": 3, "idle_s": 1.5}]
    assert report["dead_letters"] == {"tagger": 2}
    assert report["services"]["dedup"]["replicas"]["dedup-host-1"]["heartbeat_age_s"] == 2.0
    assert report["services"]["pusher"]["ready"] is False
    assert report["ready"] is False


def test_table_names_streams_groups_consumers_and_capped_lag() -> None:
    """The rich rendering shows each stream, group and consumer, and a capped lag as '>=N'."""
    capped = StreamStats(
        "articles.tagged", True, 1, "1-0", "1-0", (GroupStats("dedup", "0-0", 0, 10000, True, None, ()),)
    )
    report = build_report([STREAM, capped], {"tagger": 0}, _beats(1000.0), now=1000.0)
    out = io.StringIO()
    render(report, Console(file=out, width=200))
    text = out.getvalue()
    for expected in ("articles.received", "tagger-host-1", "articles.tagged", ">=10000", "Dead letters"):
        assert expected in text


def test_redacted_url_hides_user_and_password_and_keeps_the_rest() -> None:
    """A Redis URL with credentials is shown without them; one without is unchanged."""
    assert redact_url("redis://user:s3cret@db.example:6380/2") == "redis://***@db.example:6380/2"
    assert redact_url("redis://:s3cret@127.0.0.1/0") == "redis://***@127.0.0.1/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_ops_commands_find_the_embedded_redis_that_up_wrote(tmp_path: Path) -> None:
    """Without NEWSWIRE_REDIS_URL the URL `newswire up` wrote to the data folder is used; the
    variable wins when set; neither is an error that says what to do."""
    settings = Settings(data_dir=tmp_path, redis_url=None)
    with pytest.raises(RuntimeError, match="NEWSWIRE_REDIS_URL"):
        resolve_redis_url(settings)
    write_embedded_url(tmp_path, "redis://127.0.0.1:7000/0")
    assert resolve_redis_url(settings) == "redis://127.0.0.1:7000/0"
    assert resolve_redis_url(settings.with_redis("redis://other:1/0")) == "redis://other:1/0"


def _subscription(webhook: bool) -> Subscription:
    delivery = {"kind": "webhook", "url": "https://hooks.example.com/x"} if webhook else {"kind": "stream"}
    return Subscription.model_validate({"name": "kz", "filter": {}, "delivery": delivery})


def _sub_stream(lag: int) -> StreamStats:
    group = GroupStats("webhooks", "5-0", pending=2, lag=lag, lag_capped=False, oldest_pending_id="4-0",
                       consumers=())  # fmt: skip
    return StreamStats("newswire:sub:kz", True, 12, "1-0", "9-0", (group,))


def test_stream_subscription_reports_its_stream_only() -> None:
    """A stream subscription is healthy and shows its stream's length."""
    health = subscription_health(
        _subscription(False), _sub_stream(0), retries_scheduled=0, endpoint={}, now=100.0
    )
    assert health == {
        "name": "kz", "delivery": "stream", "stream": "newswire:sub:kz", "length": 12, "healthy": True,
    }  # fmt: skip


def test_failing_webhook_shows_for_how_long_and_is_not_healthy() -> None:
    """An endpoint failing since t=40 shows 60 s of failure at t=100, its lag and retries."""
    health = subscription_health(
        _subscription(True), _sub_stream(7), retries_scheduled=3,
        endpoint={"failing_since": "40.0"}, now=100.0,
    )  # fmt: skip
    assert (health["healthy"], health["failing_for_s"], health["lag"], health["pending"]) == (
        False, 60.0, 7, 2,
    )  # fmt: skip
    assert (health["retries_scheduled"], health["disabled"], health["host"]) == (
        3, False, "hooks.example.com",
    )  # fmt: skip


def test_disabled_webhook_says_why() -> None:
    """A disabled endpoint is unhealthy and carries the reason ops read."""
    health = subscription_health(
        _subscription(True), _sub_stream(0), retries_scheduled=0,
        endpoint={"disabled_at": "90.0", "disabled_reason": "410 Gone"}, now=100.0,
    )  # fmt: skip
    assert (health["healthy"], health["disabled"], health["disabled_reason"]) == (False, True, "410 Gone")
