"""`newswire up --demo`: the whole stack from one command, and nothing left behind after Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.embedded_redis import free_port

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_S = 90


def _events(output: str) -> list[dict]:
    events = []
    for line in output.splitlines():
        _, _, payload = line.partition("| ") if not line.startswith("{") else ("", "", line)
        try:
            events.append(json.loads(payload))
        except json.JSONDecodeError:
            continue
    return events


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_demo_runs_the_sample_wire_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """With no NEWSWIRE_REDIS_URL, `up --demo` embeds Redis, runs four services, feeds the samples
    (the republished seed is a duplicate), and SIGINT leaves no process running."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSWIRE_REDIS_URL"}
    env.update(
        NEWSWIRE_DATA_DIR=str(tmp_path / "data"),
        NEWSWIRE_HTTP_PORT=str(free_port()),
        NEWSWIRE_LOG_FORMAT="json",
    )
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--demo"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + DEMO_TIMEOUT_S
        while time.monotonic() < deadline and up.poll() is None:
            if any(e.get("event") == "demo.done" for e in _events(log_path.read_text())):
                break
            time.sleep(0.5)
        events = _events(log_path.read_text())
        assert any(e.get("event") == "demo.done" for e in events), log_path.read_text()[-5000:]
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(60)
    events = _events(log_path.read_text())
    finished = {e["sample"]: e for e in events if e.get("event") == "demo.finished"}
    # On failure: what dedup did with each article, in the order it did it.
    judged = [e for e in events if e.get("service") == "dedup" and e.get("stage") == "dedup"]
    assert finished["01_seed_deutsche_tageszeitung.txt"]["status"] == "delivered", (finished, judged)
    republished = finished["02_seed_republished_rheinischer_kurier.txt"]
    assert republished["status"] == "duplicate"
    assert republished["duplicate_of"] == finished["01_seed_deutsche_tageszeitung.txt"]["article_id"]
    samples = [p for p in (REPO_ROOT / "samples").iterdir() if p.suffix in {".txt", ".json", ".html"}]
    assert len(finished) == len(samples)
    services = {e["service"] for e in events if e.get("event") == "message.processed"}
    assert services == {"tagger", "dedup", "pusher"}
    assert code == 0
    pids = [e["pid"] for e in events if e.get("event") in {"child.started", "redis.started"}]
    assert len(pids) >= 5
    time.sleep(0.5)
    assert [pid for pid in pids if _alive(pid)] == []
