"""Where the reference data lives, and how an evaluation says it could not run."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The reference kit's data folder: ``NEWSWIRE_DATA_DIR``, else ``../shared/data`` beside the repo."""
    configured = os.environ.get("NEWSWIRE_DATA_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


class DataMissingError(RuntimeError):
    """The data an evaluation needs is not on this machine (a user's clone has none)."""
