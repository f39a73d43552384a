"""Where the ops commands find Redis, and how URLs are shown without their secrets.

``newswire up`` with an embedded Redis (no ``NEWSWIRE_REDIS_URL``) writes that Redis's URL to
``<data_dir>/redis.url`` (loopback, no password), so ``newswire status`` and ``newswire dlq``
find the running stack without being told.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.settings import Settings

RUN_STATE_FILE = "redis.url"


def run_state_path(data_dir: Path) -> Path:
    return data_dir / RUN_STATE_FILE


def write_embedded_url(data_dir: Path, url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    run_state_path(data_dir).write_text(url + "\n")


def forget_embedded_url(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        run_state_path(data_dir).unlink()


def resolve_redis_url(settings: Settings) -> str:
    """``NEWSWIRE_REDIS_URL``, else the URL of the embedded Redis a running ``newswire up`` wrote."""
    if settings.redis_url:
        return settings.redis_url
    path = run_state_path(settings.data_dir)
    if path.is_file():
        return path.read_text().strip()
    msg = f"NEWSWIRE_REDIS_URL is not set and no running `newswire up` wrote {path}"
    raise RuntimeError(msg)


def redact_url(url: str) -> str:
    """The URL with any password (and user) replaced: safe to log or print."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))
