"""What a DAG flow *is*: typed pydantic models of ``flow.dag.yaml`` (FLOW_FORMAT §1).

The models accept everything promptflow's executor accepts (unknown keys are kept, not
rejected); problems that need the whole flow (references, cycles, files) are found by
``flow.validate``. Nothing here executes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from promptflow_lite.flow._reference import NodeRef, Reference, parse_reference
from promptflow_lite.flow._value_type import ValueType

__all__ = ["Activate", "FlowInput", "FlowOutput", "FlowSpec", "Node", "NodeVariants", "Source", "ValueType", "Variant"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FlowInput(_Model):
    """A flow input: its type, optional default and chat flags."""

    type: ValueType
    default: Any = None
    description: Optional[str] = None
    enum: Optional[list[Any]] = None
    is_chat_input: bool = False
    is_chat_history: Optional[bool] = None

    @property
    def has_default(self) -> bool:
        return self.default is not None


class FlowOutput(_Model):
    """A flow output: a reference to a node output or flow input (or a literal string)."""

    type: ValueType = ValueType.STRING
    reference: Any = None
    description: Optional[str] = None
    is_chat_output: bool = False
    evaluation_only: bool = False

    @property
    def ref(self) -> Reference | None:
        return parse_reference(self.reference)


class Source(_Model):
    """Where a node's tool comes from: a file in the flow (``code``) or a package tool."""

    type: str = "code"
    path: Optional[str] = None
    tool: Optional[str] = None


class Activate(_Model):
    """Run the node only when ``when`` (a reference or literal) equals ``is``."""

    when: Any = None
    is_: Any = Field(default=None, alias="is")


class Node(_Model):
    """One node of the DAG."""

    name: str
    type: Optional[str] = None
    source: Optional[Source] = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    connection: Optional[str] = None
    api: Optional[str] = None
    provider: Optional[str] = None
    module: Optional[str] = None
    aggregation: bool = Field(default=False, alias="reduce")
    activate: Optional[Activate] = None
    use_variants: bool = False
    enable_cache: bool = False
    comment: Optional[str] = None

    @field_validator("inputs", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("name", mode="before")
    @classmethod
    def _name_as_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) else value

    def input_refs(self) -> dict[str, Reference]:
        """The inputs that are references, by input name."""
        refs = {}
        for key, value in self.inputs.items():
            ref = parse_reference(value)
            if ref is not None:
                refs[key] = ref
        return refs

    @property
    def activate_ref(self) -> Reference | None:
        return parse_reference(self.activate.when) if self.activate else None

    def node_dependencies(self) -> set[str]:
        """Names of the nodes this node waits for (inputs and ``activate.when``)."""
        refs = list(self.input_refs().values())
        if self.activate_ref is not None:
            refs.append(self.activate_ref)
        return {r.node for r in refs if isinstance(r, NodeRef)}


class Variant(_Model):
    node: dict[str, Any]
    description: Optional[str] = None


class NodeVariants(_Model):
    default_variant_id: Optional[str] = None
    variants: dict[str, Variant] = Field(default_factory=dict)


class FlowSpec(_Model):
    """A whole ``flow.dag.yaml``. ``path`` and ``working_dir`` are set by the loader."""

    inputs: dict[str, FlowInput] = Field(default_factory=dict)
    outputs: dict[str, FlowOutput] = Field(default_factory=dict)
    nodes: list[Node] = Field(default_factory=list)
    node_variants: dict[str, NodeVariants] = Field(default_factory=dict)
    environment_variables: Any = None
    additional_includes: list[str] = Field(default_factory=list)
    environment: Optional[dict[str, Any]] = None
    language: Optional[str] = None
    message_format: Optional[str] = None
    name: Optional[str] = None
    id: Optional[str] = None
    description: Optional[str] = None
    display_name: Optional[str] = None
    tags: Optional[dict[str, Any]] = None

    _path: Optional[Path] = PrivateAttr(default=None)
    _working_dir: Optional[Path] = PrivateAttr(default=None)

    @field_validator("inputs", "outputs", "node_variants", mode="before")
    @classmethod
    def _none_is_empty_dict(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("nodes", "additional_includes", mode="before")
    @classmethod
    def _none_is_empty_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def working_dir(self) -> Path:
        return self._working_dir or Path.cwd()

    def located(self, path: Path | None, working_dir: Path | None) -> "FlowSpec":
        self._path, self._working_dir = path, working_dir
        return self

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    @property
    def flow_name(self) -> str:
        return self.name or (self._working_dir.name if self._working_dir else "flow")

    # chat semantics (FLOW_FORMAT §1.3) ---------------------------------------------------
    @property
    def chat_input(self) -> str | None:
        names = [k for k, v in self.inputs.items() if v.is_chat_input]
        return names[0] if len(names) == 1 else None

    @property
    def chat_history_input(self) -> str | None:
        marked = [k for k, v in self.inputs.items() if v.is_chat_history]
        if marked:
            return marked[0]
        history = self.inputs.get("chat_history")
        return "chat_history" if history is not None and history.is_chat_history is not False else None

    @property
    def chat_output(self) -> str | None:
        names = [k for k, v in self.outputs.items() if v.is_chat_output]
        return names[0] if names else None

    @property
    def is_chat_flow(self) -> bool:
        return self.chat_input is not None
