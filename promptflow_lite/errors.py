"""Errors a user can act on: what went wrong, where (file, node, line), and how to fix it.

Every error raised on purpose by promptflow_lite derives from :class:`PflError`. ``UserError``
means the flow, data or configuration must change; ``SystemError`` means we failed. The
``to_dict`` form follows promptflow's error dicts, so tools reading ``error.json`` keep working.
Messages, hints and stack traces are masked (:mod:`.masking`): an endpoint echoing a key in its
error never puts that key in an error.
"""

from __future__ import annotations

import traceback
from typing import Any

from promptflow_lite.masking import mask_secrets, register_environment


class PflError(Exception):
    """Base of all promptflow_lite errors.

    ``message`` says what happened, ``hint`` how to fix it; ``file``, ``node`` and ``line``
    locate it. ``str(err)`` joins them into one readable sentence.
    """

    category = "SystemError"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        node: str | None = None,
        line: int | None = None,
    ):
        self.message = mask_secrets(message)
        self.hint = mask_secrets(hint) if hint else hint
        self.file = str(file) if file is not None else None
        self.node = node
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.node:
            where.append(f"node '{self.node}'")
        if self.line is not None:
            where.append(f"line {self.line}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.hint:
            text += ("" if text.rstrip().endswith((".", "!", "?", ":")) else ".") + f" Fix: {self.hint}"
        return text

    def locate(self, *, file: Any = None, node: str | None = None) -> "PflError":
        """Fill in the file and node where they are not known yet (then re-raise)."""
        self.file = self.file or (str(file) if file is not None else None)
        self.node = self.node or node
        self.args = (self._render(),)
        return self

    @property
    def code(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return error_dict(self)


class UserError(PflError):
    """The flow, data, connection or command must change."""

    category = "UserError"


class InternalError(PflError):
    """promptflow_lite itself failed (promptflow's "SystemError"); please report it."""


class FlowLoadError(UserError):
    """A flow file cannot be read or parsed."""


class ValidationProblem(UserError):
    """One problem found while validating a flow (there may be several)."""


class FlowValidationError(UserError):
    """A flow has one or more validation problems; ``problems`` lists them all."""

    def __init__(self, problems: list[ValidationProblem], *, file: str | None = None):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the flow:\n{lines}", file=file)


class InputError(UserError):
    """A flow input is missing or has the wrong type."""


class ConnectionNotFound(UserError):
    """A flow names a connection that does not exist."""


class ToolLoadError(UserError):
    """A node's tool cannot be loaded (missing file, no or several @tool functions...)."""


class ToolExecutionError(UserError):
    """A node's tool raised; keeps the original exception and the user's traceback."""

    def __init__(self, node: str, exc: BaseException, user_traceback: str = ""):
        self.inner = exc
        self.user_traceback = user_traceback
        super().__init__(
            f"Execution failure in '{node}': ({type(exc).__name__}) {exc}", node=node
        )


class LineTimeoutError(UserError):
    """A line took longer than the line timeout."""


RAISE_TIMEOUT = "raise the line timeout (pfl run: --line-timeout, pfl flow serve: --timeout)"


class LLMError(UserError):
    """An LLM call failed for good (after retries, or with a non-retryable status)."""


def error_dict(exc: BaseException) -> dict[str, Any]:
    """Promptflow-shaped error dict for any exception (``code``, ``message``, ``innerError``...), secrets masked."""
    register_environment()  # flow code may have loaded a key into the environment (``load_dotenv()``)
    if isinstance(exc, PflError):
        category, message = exc.category, mask_secrets(str(exc))
    else:
        category, message = "SystemError", mask_secrets(f"({type(exc).__name__}) {exc}")
    data: dict[str, Any] = {
        "code": category,
        "message": message,
        "messageFormat": "",
        "messageParameters": {},
        "innerError": _inner_error(exc),
    }
    if isinstance(exc, PflError):
        location = {k: v for k, v in (("file", exc.file), ("node", exc.node), ("line", exc.line)) if v is not None}
        if location:
            data["location"] = location
        if exc.hint:
            data["hint"] = exc.hint
    tb = getattr(exc, "user_traceback", "") or "".join(traceback.format_exception(exc))
    data["debugInfo"] = {"type": type(exc).__name__, "message": mask_secrets(str(exc)), "stackTrace": mask_secrets(tb)}
    return data


def _inner_error(exc: BaseException) -> dict[str, Any]:
    """``{"code": <class name>, "innerError": ...}`` down the chain of wrapped exceptions (``exc.inner``)."""
    inner = getattr(exc, "inner", None) if isinstance(exc, PflError) else None
    return {"code": type(exc).__name__, "innerError": _inner_error(inner) if inner is not None else None}


def error_codes(error: Any) -> list[str]:
    """Every code of a promptflow error dict, outermost first (``UserError``, ``ToolExecutionError``, ...)."""
    codes = []
    while isinstance(error, dict) and len(codes) < 20:
        if error.get("code"):
            codes.append(error["code"])
        error = error.get("innerError")
    return codes


class InvalidFlowOverride(UserError):
    """A ``--connections`` / variant override does not fit the flow."""
