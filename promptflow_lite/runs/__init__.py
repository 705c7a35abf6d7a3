"""Batch runs: many lines of a flow over a dataset, stored under ``PFL_HOME/runs/``.

``Client`` is the entry point (``Client().run(flow=..., data=...)``); ``load_run`` reads a
``run.yml``. Modules, in the order data flows through them: ``_spec`` (what to run), ``_data``
(reading data files), ``_mapping`` and ``_prepare`` (lines of flow inputs), ``_engine`` (executing
lines; ``_ray_engine``, ``_ray_worker``, ``_ray_cluster`` and ``_flow_package`` on a Ray cluster), ``_records``/``_store``/``_index``/``_log`` (the run folder, the run index, logs.txt),
``_runner`` (one run from start to end, resume), ``_progress``, ``_details``, ``_visualize``; for
browsing: ``_listing`` (the run list), ``_lines`` (a run's lines a page at a time), ``_examples``
(add a traced line to a dataset).
"""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "Client": "._client", "PFClient": "._client", "Run": "._model", "RunSpec": "._spec", "load_run": "._spec",
    "LineEngine": "._engine", "LineTask": "._engine", "LocalEngine": "._engine", "register_engine": "._engine",
    "engine_for": "._engine", "FlowRecipe": "._engine",
    "list_runs": "._listing", "get_run_row": "._listing", "line_page": "._lines", "add_to_dataset": "._examples",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
