"""devstack's process handling, on intake alone (the quickest service to start)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from devstack import Stack, wait_for

pytestmark = pytest.mark.integration


def test_a_supervised_service_killed_is_started_again_and_a_stopped_one_still_exits_cleanly(
    redis_url: str, tmp_path: Path
) -> None:
    """kill -9 on a supervised service: the supervisor starts it again (counted in ``restarts``) and
    it answers once more; then, SIGSTOPped, ``stop()`` still ends it with exit code 0, as SIGCONT
    goes before SIGTERM."""
    with Stack(redis_url, tmp_path, supervise=True) as stack:
        stack.start(("intake",))
        stack.wait_healthy(60)
        stack.kill("intake")
        intake = stack.services["intake"]
        wait_for(lambda: intake.restarts == 1 and intake.alive, 10, "intake restarted")
        stack.wait_healthy(60)
        intake.signal(signal.SIGSTOP)
        codes = stack.stop(timeout=15)
    assert codes == {"intake": 0}, stack.all_logs()
    assert intake.restarts == 1
