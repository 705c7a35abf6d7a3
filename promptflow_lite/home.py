"""Where everything a user creates lives: ``PFL_HOME`` (default ``~/.promptflow_lite``)."""

from __future__ import annotations

import os
from pathlib import Path


def pfl_home() -> Path:
    """The home folder; tests point ``PFL_HOME`` at a temp dir.

    Not created here: what writes into it creates the folders it needs, so reading (a Ray
    worker, ``pfl run list`` on a new machine) leaves no empty ``~/.promptflow_lite`` behind.
    """
    return Path(os.environ.get("PFL_HOME") or Path.home() / ".promptflow_lite").expanduser()
