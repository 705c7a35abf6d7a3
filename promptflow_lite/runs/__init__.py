"""Batch runs: many lines of a flow over a dataset, stored under ``PFL_HOME/runs/``.

``Client`` is the entry point (``Client().run(flow=..., data=...)``); ``load_run`` reads a
``run.yml``. Modules, in the order data flows through them: ``spec`` (what to run), ``data``
(reading data files), ``mapping`` and ``prepare`` (lines of flow inputs), ``engine`` (executing
lines), ``records``/``store``/``index``/``log`` (the run folder, the run index, logs.txt),
``runner`` (one run from start to end, resume), ``progress``, ``details``, ``visualize``; for browsing:
``listing`` (the run list), ``lines`` (a run's lines a page at a time), ``examples`` (add a traced line to a dataset).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"Client": "client", "PFClient": "client", "Run": "model", "RunSpec": "spec", "load_run": "spec",
            "list_runs": "listing", "get_run_row": "listing", "line_page": "lines", "add_to_dataset": "examples"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'promptflow_lite.runs' has no attribute '{name}'")
    return getattr(importlib.import_module(f"promptflow_lite.runs.{_EXPORTS[name]}"), name)
