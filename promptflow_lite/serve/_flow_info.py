"""What serving needs to know about a loaded flow of any kind (DAG, flex, prompty), computed once."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputInfo:
    type: str | None = None  # ValueType value; None when the flow does not declare it
    description: str | None = None
    evaluation_only: bool = False


@dataclass(frozen=True)
class FlowInfo:
    """A flow's serving facts: name, inputs, outputs, chat roles, folder and ``samples.json``."""

    name: str
    kind: str
    inputs: dict[str, Any]  # name → definition (``type``, ``default``, ``has_default``, ``description``)
    outputs: dict[str, OutputInfo]
    chat_input: str | None = None
    chat_history: str | None = None
    chat_output: str | None = None
    folder: Path = Path(".")
    samples: Any = field(default=None, compare=False)

    @classmethod
    def of(cls, flow: Any) -> "FlowInfo":
        inputs = dict(flow.inputs)
        spec = getattr(flow, "spec", None)
        if spec is not None:  # a DAG: typed outputs and chat roles from flow.dag.yaml
            names = set(flow.output_names)
            outputs = {name: OutputInfo(o.type.value, o.description, o.evaluation_only)
                       for name, o in spec.outputs.items() if name in names}
            chat = (spec.chat_input, spec.chat_history_input, spec.chat_output)
        else:
            outputs = {name: OutputInfo() for name in flow.output_names}
            chat = (_chat_input(inputs), _chat_history(inputs), None)
        folder = Path(getattr(flow, "working_dir", None) or ".")
        return cls(name=str(flow.name), kind=str(getattr(flow, "kind", "dag")), inputs=inputs, outputs=outputs,
                   chat_input=chat[0], chat_history=chat[1], chat_output=chat[2], folder=folder,
                   samples=read_samples(folder / "samples.json"))

    @property
    def evaluation_only(self) -> frozenset[str]:
        return frozenset(name for name, output in self.outputs.items() if output.evaluation_only)


def _chat_input(inputs: dict[str, Any]) -> str | None:
    names = [name for name, d in inputs.items() if getattr(d, "is_chat_input", False)]
    return names[0] if len(names) == 1 else None


def _chat_history(inputs: dict[str, Any]) -> str | None:
    marked = [name for name, d in inputs.items() if getattr(d, "is_chat_history", None)]
    if marked:
        return marked[0]
    history = inputs.get("chat_history")
    return "chat_history" if history is not None and getattr(history, "is_chat_history", None) is not False else None


def read_samples(path: Path) -> Any:
    """The flow's ``samples.json`` (a list of input dicts), or None; a broken file is only a warning."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _log.warning("Ignoring %s: %s", path, exc)
        return None
