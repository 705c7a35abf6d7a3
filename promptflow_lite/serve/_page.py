"""``GET /``: the try-it page of a served flow — a chat for chat flows, a form from the inputs otherwise.

One static page for every flow (and the list of flows of a multi-flow server): it reads the flow
from ``swagger.json`` next to it, so it holds no flow data and may be shown before the API key is
given. The key typed into it is kept in the tab's ``sessionStorage`` and sent as a bearer token.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=1)
def page_html() -> bytes:
    return files("promptflow_lite.serve").joinpath("static/page.html").read_bytes()
