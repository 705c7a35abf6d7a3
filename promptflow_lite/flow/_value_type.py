"""The value types of flow inputs and outputs (FLOW_FORMAT §1.3), apart from the pydantic flow model:
converting a python tool's inputs needs them, loading a flow file needs the model."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ValueType(str, Enum):
    """Input/output value types (case-sensitive, as promptflow's ``ValueType``)."""

    INT = "int"
    DOUBLE = "double"
    BOOL = "bool"
    STRING = "string"
    LIST = "list"
    OBJECT = "object"
    IMAGE = "image"
    SECRET = "secret"
    PROMPT_TEMPLATE = "prompt_template"
    FILE_PATH = "file_path"
    ASSISTANT_DEFINITION = "assistant_definition"

    @classmethod
    def from_value(cls, value: Any) -> "ValueType":
        """The type of a sample value, as promptflow's ``ValueType.from_value`` (bool before int)."""
        for kind, python_type in ((cls.BOOL, bool), (cls.INT, int), (cls.DOUBLE, float), (cls.STRING, str),
                                  (cls.LIST, list)):
            if isinstance(value, python_type):
                return kind
        return cls.OBJECT
