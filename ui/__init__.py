"""The Streamlit app of ``pfl ui`` (shipped as ``promptflow_lite.ui``): ``app.py`` is its entry, ``pages/`` its pages.

Importing this package does not import Streamlit; ``pfl ui`` only needs :data:`APP`.
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).parent / "app.py"
PAGES = Path(__file__).parent / "pages"
