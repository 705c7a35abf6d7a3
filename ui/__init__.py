"""The Streamlit app of ``pfl ui`` (shipped as ``promptflow_lite.ui``): ``app.py`` is its entry, ``views/`` its pages.

The pages live in ``views/``, not ``pages/``: a ``pages/`` folder beside the entry script puts Streamlit in its
legacy multipage mode, which serves a deep link on a fresh server without the app's navigation.

Importing this package does not import Streamlit; ``pfl ui`` only needs :data:`APP`.
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).parent / "app.py"
VIEWS = Path(__file__).parent / "views"
