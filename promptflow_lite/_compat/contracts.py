"""Small promptflow classes that flow code imports by name (FLOW_FORMAT §9.2).

They exist so ``from promptflow.contracts.types import PromptTemplate`` and friends work
without promptflow installed; each behaves as promptflow's does where flows rely on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

from promptflow_lite.errors import PflError


class PromptTemplate(str):
    """A jinja template string parameter (the file of a ``custom_llm`` node is bound to it)."""


class FilePath(str):
    """A path parameter."""


@dataclass
class AssistantDefinition:
    """promptflow's assistant definition (model, instructions, tools), loaded from YAML."""

    model: str = ""
    instructions: str = ""
    tools: list = field(default_factory=list)

    @staticmethod
    def deserialize(data: dict) -> "AssistantDefinition":
        return AssistantDefinition(data.get("model", ""), data.get("instructions", ""), data.get("tools", []))

    def serialize(self) -> dict:
        return {"model": self.model, "instructions": self.instructions, "tools": self.tools}


@dataclass
class DynamicList:
    """UI metadata for a tool input whose choices come from a function."""

    function: Callable | str
    input_mapping: dict | None = None


@dataclass
class InputSetting:
    """UI metadata for a tool input (shown in editors; ignored at execution)."""

    enabled_by: str | None = None
    enabled_by_type: list | None = None
    enabled_by_value: list | None = None
    dynamic_list: DynamicList | None = None
    allow_manual_entry: bool = False
    is_multi_select: bool = False
    generated_by: Any = None
    input_type: Any = None
    undefined_field: dict | None = None


class ToolType(str, Enum):
    LLM = "llm"
    PYTHON = "python"
    PROMPT = "prompt"
    CUSTOM_LLM = "custom_llm"
    CSHARP = "csharp"


@dataclass
class FlowContext:
    """Per-call overrides for a loaded flow (connections, variant, streaming)."""

    configs: Any = None
    connections: dict | None = None
    variant: str | None = None
    overrides: dict | None = None
    streaming: bool = False


class ErrorTarget(str, Enum):
    EXECUTOR = "Executor"
    TOOL = "Tool"
    FLOW_EXECUTOR = "FlowExecutor"
    NODE_EXECUTOR = "NodeExecutor"
    UNKNOWN = "Unknown"


class PromptflowException(PflError):
    """promptflow's base exception; accepts its keyword arguments (target, error, ...)."""

    def __init__(self, message: str = "", message_format: str = "", target: Any = None, module: Any = None,
                 **kwargs: Any):
        if not message and message_format:
            try:
                message = message_format.format(**kwargs)
            except (KeyError, IndexError):
                message = message_format
        self.target = target
        self.inner_exception = kwargs.get("error")
        super().__init__(message or type(self).__name__)


class UserErrorException(PromptflowException):
    category = "UserError"


class SystemErrorException(PromptflowException):
    category = "SystemError"


class ValidationException(UserErrorException):
    pass


class OperationContext(dict):
    """A per-context dict of tracing attributes (``OperationContext.get_instance()``)."""

    _instance: "OperationContext | None" = None

    @classmethod
    def get_instance(cls) -> "OperationContext":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get_context_dict(self) -> dict:
        return dict(self)

    def append_user_agent(self, user_agent: str) -> None:
        self["user_agent"] = f"{self.get('user_agent', '')} {user_agent}".strip()

    def set_default_tracing_keys(self, keys: set) -> None:
        self["_tracing_keys"] = set(keys)


def get_logger(name: str = "promptflow") -> logging.Logger:
    return logging.getLogger(name)


class ThreadPoolExecutorWithContext:
    """A ThreadPoolExecutor whose tasks run in a copy of the caller's context."""

    def __new__(cls, *args: Any, **kwargs: Any):
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        class _Pool(ThreadPoolExecutor):
            def submit(self, fn, /, *a, **kw):
                return super().submit(contextvars.copy_context().run, fn, *a, **kw)

        return _Pool(*args, **kwargs)
