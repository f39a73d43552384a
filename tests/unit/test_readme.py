"""The README documents every setting and the commands a newcomer needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(field: str) -> None:
    """Each NEWSWIRE_* variable the code reads has a row in the README's settings table."""
    assert f"| `NEWSWIRE_{field.upper()}` |" in README


def test_the_two_commands_come_first() -> None:
    """`make run` and `make test` are shown before anything else is explained."""
    first_code_block = README.split("```")[1]
    assert "make run" in first_code_block and "make test" in first_code_block
