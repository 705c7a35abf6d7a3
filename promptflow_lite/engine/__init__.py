"""How a flow *runs*: ``load_flow(path)`` gives a ``Flow``; ``await flow.arun(inputs)`` runs one line
(a ``LineResult``), ``await flow.aaggregate(lines)`` the aggregation step. ``run_flow_test`` is
``pfl flow test`` as a call; ``Prompty`` / ``AsyncPrompty`` call a ``.prompty`` file."""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "load_flow": "._load", "load_callable": "._load", "Flow": "._load", "AsyncFlow": "._load",
    "FlowRunError": "._flow", "run_sync": "._sync",
    "LineResult": "._results", "NodeRun": "._results", "AggregationResult": "._results",
    "run_flow_test": "._flow_test", "FlowTestOutcome": "._flow_test",
    "Prompty": "._prompty", "AsyncPrompty": "._prompty", "validate_flow": "._validate",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
