"""Loading a flow by what its file holds: ``load_flow(path)`` gives a DAG, flex or prompty ``Flow``.

``load_callable`` is promptflow's ``load_flow`` / ``Flow.load`` / ``AsyncFlow.load``: a prompty loads
as ``Prompty`` / ``AsyncPrompty`` (a call returns the answer itself), any other flow as ``load_flow``
does (wrapped in ``AsyncFlow`` when asked for).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptflow_lite.engine._connections import connection_provider
from promptflow_lite.engine._flow import Flow, FlowRunError


class AsyncFlow:
    """promptflow's ``AsyncFlow``: ``await AsyncFlow.load(path)(**inputs)``."""

    def __init__(self, flow: Flow):
        self._flow = flow

    @classmethod
    def load(cls, source: str | Path, **kwargs: Any) -> Any:
        """An ``AsyncFlow``, or an ``AsyncPrompty`` for a prompty (as ``load_callable``)."""
        return load_callable(source, is_async=True, **kwargs)

    async def __call__(self, **inputs: Any) -> dict[str, Any]:
        result = await self._flow.arun(inputs)
        if not result.ok:
            raise FlowRunError(result)
        return result.outputs or {}


def load_flow(source: str | Path, *, variant: str | None = None, connections: Any = None,
              environment_variables: dict[str, Any] | None = None,
              connection_overrides: dict[str, str] | None = None, init: dict[str, Any] | None = None) -> Flow:
    """Load a flow folder or file (``flow.dag.yaml``, ``flow.flex.yaml``, ``x.prompty``).

    ``variant`` picks a node variant (``'${node.variant_1}'``); ``connections`` is a provider, a
    ``{name: Connection}`` dict or None for the local store; ``environment_variables`` override
    the flow's; ``connection_overrides`` are ``{"node.connection": "name", "node.deployment_name": ...}``;
    ``init`` are the init kwargs of a flex flow class.
    """
    from promptflow_lite.connections._files import register_dotenv_secrets
    from promptflow_lite.flow._loader import flow_kind, resolve_flow_path

    file, _ = resolve_flow_path(source)
    register_dotenv_secrets(file.parent / ".env")
    kind = flow_kind(file)
    provider = connection_provider(connections)
    if kind == "dag":
        from promptflow_lite.engine._dag import DagFlow

        return DagFlow.from_file(file, variant=variant, connections=provider,
                                 environment_variables=environment_variables, connection_overrides=connection_overrides)
    if kind == "flex":
        from promptflow_lite.engine._flex import FlexFlow

        return FlexFlow.from_file(file, connections=provider, environment_variables=environment_variables, init=init)
    from promptflow_lite.engine._prompty_flow import PromptyFlow

    return PromptyFlow.from_file(file, connections=provider, init=init)


def load_callable(source: str | Path, *, is_async: bool = False, **kwargs: Any) -> Any:
    """promptflow's ``load_flow`` / ``Flow.load`` (``AsyncFlow.load`` with ``is_async``): a prompty
    loads as ``Prompty`` / ``AsyncPrompty`` (``model=...`` and other overrides apply; a call returns
    the answer itself), any other flow as ``load_flow`` does (wrapped in ``AsyncFlow``)."""
    from promptflow_lite.flow._loader import resolve_flow_path

    file, _ = resolve_flow_path(source)
    if file.suffix == ".prompty":
        from promptflow_lite.engine._prompty import AsyncPrompty, Prompty

        return (AsyncPrompty if is_async else Prompty).load(file, **kwargs)
    flow = load_flow(source, **kwargs)
    return AsyncFlow(flow) if is_async else flow


Flow.load = staticmethod(load_callable)

__all__ = ["AsyncFlow", "Flow", "FlowRunError", "load_callable", "load_flow"]
