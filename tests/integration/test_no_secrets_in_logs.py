"""No secret in any log line: a whole stack runs with canary secrets and its logs never show them.

The canaries: the Redis password (in NEWSWIRE_REDIS_URL), an API key that is accepted, an API key
that is refused, and a webhook signing secret (made at creation, and again by a rotation). Logs run
at DEBUG, so FastStream's and uvicorn's own lines are searched too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.embedded_redis import find_redis_server, free_port

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = REPO_ROOT / "samples" / "01_seed_deutsche_tageszeitung.txt"
REDIS_PASSWORD = "canary-redis-pw-7f3a91"  # noqa: S105 (a canary planted to be searched for)
API_KEY = "canary-api-key-2b8c44"
WRONG_KEY = "canary-wrong-key-9d1e07"


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[str]:
    """A private redis-server that requires a password; its URL carries it."""
    port = free_port()
    server = subprocess.Popen(
        [str(find_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
         "--requirepass", REDIS_PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def _wait_for(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.25)
    raise AssertionError(f"{text!r} not logged in {timeout} s:\n{path.read_text(errors='replace')[-4000:]}")


def test_a_full_run_logs_no_canary_secret(redis_with_password: str, tmp_path: Path) -> None:
    """`newswire up` on a password-protected Redis, with API keys and a webhook subscription, serving
    an accepted article, a refused key and a secret rotation: no canary appears in any log line."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env.update(
        NEWSWIRE_REDIS_URL=redis_with_password,
        NEWSWIRE_HTTP_PORT=str(port),
        NEWSWIRE_API_KEYS=API_KEY,
        NEWSWIRE_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
        NEWSWIRE_LOG_LEVEL="DEBUG",
        NEWSWIRE_LOG_FORMAT="json",
        NEWSWIRE_DATA_DIR=str(tmp_path / "data"),
        NEWSWIRE_HEARTBEAT_INTERVAL_S="0.5",
    )
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    secrets: list[str] = []
    try:
        _wait_for(log_path, '"stack.ready"', timeout=90)
        refused = httpx.post(
            f"{base}/v1/articles", content=b"x", headers={"Authorization": f"Bearer {WRONG_KEY}"}
        )
        assert refused.status_code == 401
        headers = {"X-API-Key": API_KEY}
        created = httpx.post(
            f"{base}/v1/subscriptions",
            json={"name": "canary", "delivery": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        secrets.append(created.json()["secret"])
        rotated = httpx.post(f"{base}/v1/subscriptions/canary/secret", headers=headers)
        assert rotated.status_code == 200, rotated.text
        secrets.append(rotated.json()["secret"])
        accepted = httpx.post(
            f"{base}/v1/articles",
            content=SEED.read_bytes(),
            headers={**headers, "content-type": "text/plain"},
        )
        assert accepted.status_code == 202, accepted.text
        _wait_for(log_path, '"outcome": "delivered"', timeout=30)
        time.sleep(1.0)  # let the webhook attempt (to a closed port) be logged
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    logs = log_path.read_text(errors="replace")
    assert '"message.processed"' in logs and "DEBUG" in logs.upper()
    for canary in (REDIS_PASSWORD, API_KEY, WRONG_KEY, *secrets):
        assert canary not in logs, f"a log line shows {canary[:12]}..."
