"""Where everything a user creates lives: ``PFL_HOME`` (default ``~/.promptflow_lite``)."""

from __future__ import annotations

import os
from pathlib import Path


def pfl_home() -> Path:
    """The home folder (created on first use); tests point ``PFL_HOME`` at a temp dir."""
    home = Path(os.environ.get("PFL_HOME") or Path.home() / ".promptflow_lite").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
