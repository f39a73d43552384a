"""Settings come from NEWSWIRE_* variables, typed."""

from __future__ import annotations

import pytest

from shared.settings import Settings

pytestmark = pytest.mark.unit


def test_environment_variables_are_read_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSWIRE_HTTP_PORT is an int, NEWSWIRE_LANGUAGES a tuple of codes."""
    monkeypatch.setenv("NEWSWIRE_REDIS_URL", "redis://example:6379/2")
    monkeypatch.setenv("NEWSWIRE_HTTP_PORT", "9090")
    monkeypatch.setenv("NEWSWIRE_LANGUAGES", "de, EN,fr")
    settings = Settings()
    assert settings.redis_url == "redis://example:6379/2"
    assert settings.http_port == 9090
    assert settings.languages == ("de", "en", "fr")


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port out of range is a configuration error, not a surprise later."""
    monkeypatch.setenv("NEWSWIRE_HTTP_PORT", "70000")
    with pytest.raises(ValueError, match="http_port"):
        Settings()


def test_defaults_match_the_design() -> None:
    """Intake on 8080; dedup window 72 h; no Redis URL means `up` embeds one."""
    settings = Settings(_env_file=None)
    assert (settings.http_port, settings.dedup_window_hours) == (8080, 72.0)
