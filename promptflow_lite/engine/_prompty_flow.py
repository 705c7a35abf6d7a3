"""A ``.prompty`` run as a flow (``pfl flow test --flow x.prompty``, batch runs, serving).

Each line calls the prompty once (on the event loop, with the shared async clients); inputs are
the prompty's ``inputs`` (or those of its ``sample``), converted to their declared types; the
output takes promptflow's batch form: a JSON-mode dict as is, text as ``{"output": text}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptflow_lite.engine._flex import ScriptFlow
from promptflow_lite.engine._prompty import CONVERTIBLE, AsyncPrompty
from promptflow_lite.errors import InputError
from promptflow_lite.flow._flex import EntryInput
from promptflow_lite.flow._value_type import ValueType


class PromptyFlow(ScriptFlow):
    kind = "prompty"

    @classmethod
    def from_file(cls, file: Path, *, connections: Any = None, init: dict[str, Any] | None = None,
                  **_: Any) -> "PromptyFlow":
        """Load the prompty; ``init`` are ``Prompty.load`` overrides (e.g. ``{"model": {...}}``), as
        promptflow passes a run's init kwargs to a prompty. The connection is resolved now, so a
        missing one fails the load rather than every line."""
        from promptflow_lite.engine._connections import connection_provider

        provider = connection_provider(connections)
        prompty = AsyncPrompty.load(file, connections=provider, **dict(init or {}))
        prompty.connection()
        return cls(func=prompty.__call__, func_name=prompty.name, name=prompty.name, path=prompty.path,
                   working_dir=prompty.path.parent, inputs=prompty_inputs(prompty),
                   outputs=list(prompty.file.outputs) or ["output"], sample_inputs=prompty.file.sample_inputs,
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
        inputs[name] = EntryInput(type=ValueType(value_type) if value_type in CONVERTIBLE | {"image"} else
                                  ValueType.OBJECT, default=spec.get("default"), required="default" not in spec,
                                  description=spec.get("description"), convert=value_type in CONVERTIBLE,
                                  is_chat_input=bool(spec.get("is_chat_input")),
                                  is_chat_history=spec.get("is_chat_history"))
    return inputs


__all__ = ["PromptyFlow", "prompty_inputs"]
