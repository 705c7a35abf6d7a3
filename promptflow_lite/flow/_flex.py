"""A flex flow's YAML (FLOW_FORMAT §8.1): ``entry: module:function`` and what it declares.

``load_flex_yaml`` reads ``flow.flex.yaml`` (any YAML with ``entry:``) and checks it; the engine
imports the entry and derives its inputs (``EntryInput``) from the signature and the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptflow_lite.errors import FlowLoadError
from promptflow_lite.flow._loader import ENTRY_PATTERN, read_yaml
from promptflow_lite.flow._model import FlowInput, ValueType
from promptflow_lite.flow._prompty_file import resolve_references

VALUE_TYPES = {t.value for t in ValueType}


class EntryInput(FlowInput):
    """A flex/prompty flow input: ``required`` when neither the code nor the YAML gives a default;
    ``convert`` says whether CLI strings are converted to ``type`` (promptflow skips inputs whose
    default is None and whose type is not declared)."""

    required: bool = False
    convert: bool = True

    @property
    def has_default(self) -> bool:
        return not self.required


@dataclass
class FlexYaml:
    """A flex flow file: where it is and what it declares."""

    path: Path
    working_dir: Path
    data: dict[str, Any]
    sample: dict[str, Any] = field(default_factory=dict)

    @property
    def entry(self) -> str:
        return str(self.data.get("entry"))

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.working_dir.name)

    def declared(self, key: str) -> dict[str, dict[str, Any]]:
        """``inputs`` / ``init`` declarations by name (``{type, default, ...}``)."""
        raw = self.data.get(key) or {}
        return {str(name): (spec if isinstance(spec, dict) else {"type": spec}) for name, spec in raw.items()}


def load_flex_yaml(file: Path, data: dict[str, Any] | None = None) -> FlexYaml:
    """Read and check a flex flow YAML; problems name the file and the fix."""
    data = read_yaml(file) if data is None else data
    where = str(file)
    entry = data.get("entry")
    if not isinstance(entry, str) or not ENTRY_PATTERN.match(entry.strip()):
        raise FlowLoadError(f"Invalid entry {entry!r}. The entry should be in the format of '<module>:<function>'.",
                            file=where, hint="write e.g. `entry: flow:ChatFlow` for class ChatFlow in flow.py.")
    if data.get("nodes"):
        raise FlowLoadError("A flex flow (with `entry:`) cannot have `nodes:`.", file=where,
                            hint="remove `entry:` for a DAG flow, or `nodes:` for a flex flow.")
    for key in ("inputs", "init", "outputs"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise FlowLoadError(f"`{key}` must be a mapping of names to {{type, default}}.", file=where)
    for key, kind in (("inputs", "inputs"), ("init", "init")):
        for name, spec in (data.get(key) or {}).items():
            typ = spec.get("type") if isinstance(spec, dict) else spec
            if key == "inputs" and typ is not None and typ not in VALUE_TYPES:
                raise FlowLoadError(f"Unknown type {typ!r} for {kind} '{name}'.", file=where,
                                    hint="use one of string, int, double, bool, list, object.")
    working_dir = file.parent.resolve()
    if data.get("code"):
        working_dir = (file.parent / str(data["code"])).resolve()
        if not working_dir.is_dir():
            raise FlowLoadError(f"The code folder '{data['code']}' does not exist.", file=where,
                                hint="fix `code:` (relative to the flow file).")
    sample = resolve_references(data.get("sample") or {}, file.parent, where)
    if not isinstance(sample, dict):
        raise FlowLoadError("`sample` must be a mapping with `inputs` and/or `init`.", file=where)
    sample = {k: resolve_references(v, file.parent, where) for k, v in sample.items()}
    return FlexYaml(path=file.resolve(), working_dir=working_dir, data={**data, "entry": entry.strip()},
                    sample=sample)


__all__ = ["ENTRY_PATTERN", "EntryInput", "FlexYaml", "VALUE_TYPES", "load_flex_yaml"]
