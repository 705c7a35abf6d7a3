"""A ``.prompty`` run as a flow (``pfl flow test --flow x.prompty``, batch runs, serving).

Each line calls the prompty once (on the event loop, with the shared async clients); inputs are
the prompty's ``inputs`` (or those of its ``sample``), converted to their declared types; the
output takes promptflow's batch form: a JSON-mode dict as is, text as ``{"output": text}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from promptflow_lite.engine._flex import ScriptFlow
from promptflow_lite.engine._entry import EntryInput
from promptflow_lite.errors import InputError
from promptflow_lite.flow._model import ValueType

_CONVERTIBLE = {t.value for t in ValueType} - {"image"}  # image strings are the prompty's to read


class PromptyFlow(ScriptFlow):
    kind = "prompty"

    @classmethod
    def from_file(cls, file: Path, *, connections: Any = None, init: dict[str, Any] | None = None,
                  **_: Any) -> "PromptyFlow":
        """Load the prompty; ``init`` are ``Prompty.load`` overrides (e.g. ``{"model": {...}}``), as
        promptflow passes a run's init kwargs to a prompty. The connection is resolved now, so a
        missing one fails the load rather than every line."""
        from promptflow_lite.engine._flow import connection_provider
        from promptflow_lite.engine._prompty import AsyncPrompty

        provider = connection_provider(connections)
        prompty = AsyncPrompty.load(file, connections=provider, **dict(init or {}))
        prompty.connection()
        return cls(func=prompty.__call__, func_name=prompty.name, name=prompty.name, path=prompty.path,
                   working_dir=prompty.path.parent, inputs=prompty_inputs(prompty),
                   outputs=list(prompty.file.outputs) or ["output"], sample_inputs=prompty.file.sample_inputs(),
                   connections=provider)

    def resolve_inputs(self, given: dict[str, Any], line_number: int | None = None) -> dict[str, Any]:
        """As for any script flow; a missing or mistyped input names the prompty file."""
        try:
            return super().resolve_inputs(given, line_number)
        except InputError as exc:
            exc.locate(file=self.path)
            raise


def prompty_inputs(prompty) -> dict[str, EntryInput]:
    """The flow inputs of a prompty: its declared inputs, or those inferred from its sample."""
    inputs = {}
    for name, spec in prompty.file.input_signature().items():
        value_type = str(spec.get("type") or "string")
        inputs[name] = EntryInput(type=ValueType(value_type) if value_type in _CONVERTIBLE | {"image"} else
                                  ValueType.OBJECT, default=spec.get("default"), required="default" not in spec,
                                  description=spec.get("description"), convert=value_type in _CONVERTIBLE,
                                  is_chat_input=bool(spec.get("is_chat_input")),
                                  is_chat_history=spec.get("is_chat_history"))
    return inputs


# ---------------------------------------------------------------------------------------------
# a .prompty as the source of a DAG `type: llm` node (a promptflow_lite extension)

_MODEL_INPUTS = ("deployment_name", "model")


def prompty_llm_caller(file: Path, connections: Any, *, connection: str | None = None, api: str | None = None,
                       node: str | None = None) -> tuple[Callable[..., Any], dict[str, Any]]:
    """An async callable for a ``type: llm`` node whose ``source.path`` is a ``.prompty``, and the
    types of its parameters (for literal node inputs).

    The prompty gives the template and the model settings; the node overrides them: its
    ``connection`` replaces ``model.configuration``, ``deployment_name`` / ``model`` inputs name the
    model, inputs named like chat/completion parameters (``temperature``, ``max_tokens``...)
    override ``model.parameters``, and every other input is a template input. The node streams
    only when the flow streams.
    """
    from promptflow_lite.engine._prompty import AsyncPrompty
    from promptflow_lite.tools._coercion import ParamType, param_types
    from promptflow_lite.tools._llm import prepare_chat, prepare_completion
    from promptflow_lite.tools._template import template_variables

    prompty = AsyncPrompty.load(file, connections=connections, **({"model": {"api": api}} if api else {}))
    override = connections.get(connection) if connection else None
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
        types[name] = ParamType(value_type if value_type in _CONVERTIBLE else "object")
    call_prompty.__name__ = f"prompty:{prompty.name}"
    return call_prompty, types


__all__ = ["PromptyFlow", "prompty_inputs", "prompty_llm_caller"]
