"""What a flow *is*: models, loading, references, variants and validation (no execution).

``load_dag(path)`` parses a ``flow.dag.yaml`` into a ``FlowSpec``; ``find_problems`` lists every
problem of one; ``resolve_flow_path`` / ``flow_kind`` tell what a path names; ``FlowDocument`` edits
a flow file keeping its comments and layout (the editor); ``init_flow`` makes a new flow from a template."""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "FlowSpec": "._model", "Node": "._model", "FlowInput": "._model", "FlowOutput": "._model",
    "ValueType": "._model",
    "load_dag": "._loader", "parse_dag": "._loader", "resolve_flow_path": "._loader", "flow_kind": "._loader",
    "read_yaml": "._loader",
    "find_problems": "._validate", "ensure_valid": "._validate",
    "apply_variant": "._variants", "parse_variant": "._variants",
    "PromptyFile": "._prompty_file", "load_prompty_file": "._prompty_file",
    "FlowDocument": "._document", "init_flow": "._new_flow",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
