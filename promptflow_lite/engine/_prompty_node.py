"""A ``.prompty`` as the source of a DAG ``type: llm`` node (a promptflow_lite extension)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from promptflow_lite.engine._prompty import CONVERTIBLE, AsyncPrompty

_MODEL_INPUTS = ("deployment_name", "model")


def prompty_llm_caller(file: Path, connections: Any, *, connection: str | None = None, api: str | None = None,
                       node: str | None = None, kind: type | None = None) -> tuple[Callable[..., Any], dict[str, Any]]:
    """An async callable for a ``type: llm`` node whose ``source.path`` is a ``.prompty``, and the
    types of its parameters (for literal node inputs).

    The prompty gives the template and the model settings; the node overrides them: its
    ``connection`` replaces ``model.configuration``, ``deployment_name`` / ``model`` inputs name the
    model, inputs named like chat/completion parameters (``temperature``, ``max_tokens``...)
    override ``model.parameters``, and every other input is a template input. The node streams
    only when the flow streams.
    """
    from promptflow_lite.connections._model_config import connection_class_of
    from promptflow_lite.connections._provider import get_connection
    from promptflow_lite.tools._coercion import ParamType, param_types
    from promptflow_lite.tools._llm import prepare_chat, prepare_completion
    from promptflow_lite.tools._template import template_variables

    prompty = AsyncPrompty.load(file, connections=connections, **({"model": {"api": api}} if api else {}))
    override = None
    if connection:  # offline, a missing one stands in as ``kind`` (the node's shape) or the prompty's type
        configuration = prompty.file.configuration
        kind = kind or connection_class_of(configuration.get("type") if isinstance(configuration, dict) else None)
        override = get_connection(connection, connections, kind=kind)
    if override is None:
        prompty.connection()  # fail at load, naming the file, when the prompty's connection is missing
    prepare = prepare_completion if prompty.file.api == "completion" else prepare_chat
    api_types = {k: v for k, v in param_types(prepare).items() if k not in ("connection", "prompt")}
    template_inputs = set(prompty.file.input_signature()) | set(template_variables(prompty.file.template))

    async def call_prompty(**inputs: Any) -> Any:
        inputs.pop("_inputs_to_escape", None)  # a prompty escapes all its inputs
        parameters = {"stream": bool(inputs.pop("stream", False))}
        model = None
        for key in list(inputs):
            if key in template_inputs:
                continue
            if key in _MODEL_INPUTS:
                model = inputs.pop(key) or model
            elif key in api_types:
                parameters[key] = inputs.pop(key)
        return await prompty.acall((), inputs, parameters=parameters, model=model, connection=override)

    types = dict(api_types)
    for name, spec in prompty.file.input_signature().items():
        value_type = str(spec.get("type") or "string")
        types[name] = ParamType(value_type if value_type in CONVERTIBLE else "object")
    call_prompty.__name__ = f"prompty:{prompty.name}"
    return call_prompty, types
