"""promptflow's ``OperationContext``: the facts of the run a line belongs to, as flow code reads them.

Apart from the other promptflow classes (``contracts``) because every line sets one: the engine imports
only this.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator


class OperationContext(dict):
    """promptflow's per-context dict of run facts (``flow_id``, ``root_run_id``, ``run_mode``, user agent...),
    readable as attributes: ``OperationContext.get_instance().flow_id``. Each line runs in its own copy."""

    _current: ContextVar["OperationContext | None"] = ContextVar("operation_context", default=None)
    USER_AGENT_KEY = "user_agent"
    REQUEST_ID_KEY = "request_id"
    EXECUTION_TARGET = "execution_target"
    _DEFAULT_TRACING_KEYS = "_default_tracing_keys"
    _OTEL_ATTRIBUTES = "_otel_attributes"
    _TRACKING_KEYS = "_tracking_keys"

    @classmethod
    def get_instance(cls) -> "OperationContext":
        instance = cls._current.get()
        if instance is None:
            instance = cls()
            cls._current.set(instance)
        return instance

    @classmethod
    def set_instance(cls, instance: "OperationContext") -> None:
        cls._current.set(instance)

    def copy(self) -> "OperationContext":
        copied = OperationContext(self)
        copied[self._OTEL_ATTRIBUTES] = dict(self.get(self._OTEL_ATTRIBUTES, {}))
        return copied

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return self[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        if name not in self:
            raise AttributeError(name)
        del self[name]

    def get_context_dict(self) -> dict:
        return dict(self)

    def get_user_agent(self) -> str:
        return " ".join(p for p in (self.get(self.USER_AGENT_KEY, ""), "promptflow_lite") if p).strip()

    def append_user_agent(self, user_agent: str) -> None:
        current = self.get(self.USER_AGENT_KEY, "")
        if user_agent not in current:
            self[self.USER_AGENT_KEY] = f"{current.strip()} {user_agent.strip()}".strip()

    def set_default_tracing_keys(self, keys: set) -> None:
        self[self._DEFAULT_TRACING_KEYS] = set(keys)

    def set_execution_target(self, execution_target: str) -> None:
        self[self.EXECUTION_TARGET] = execution_target

    def get_execution_target(self) -> str | None:
        return self.get(self.EXECUTION_TARGET)

    def _add_otel_attributes(self, key: str, value: Any) -> None:
        self.setdefault(self._OTEL_ATTRIBUTES, {})[key] = value

    def _get_otel_attributes(self) -> dict:
        return {k: v for k, v in self.get(self._OTEL_ATTRIBUTES, {}).items() if v is not None}


@contextmanager
def run_context(**values: Any) -> Iterator[OperationContext]:
    """A copy of the current ``OperationContext`` with ``values`` for the block (one line of a flow)."""
    original = OperationContext.get_instance()
    context = original.copy()
    context.update(values)
    OperationContext.set_instance(context)
    try:
        yield context
    finally:
        OperationContext.set_instance(original)
