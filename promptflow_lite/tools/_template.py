"""Jinja prompt templates as promptflow renders them (FLOW_FORMAT §2.6).

``render_template`` uses a jinja2 ``SandboxedEnvironment(trim_blocks=True,
keep_trailing_newline=True)`` without autoescape; missing variables render empty. Set
``PF_USE_SANDBOX_FOR_JINJA=false`` for a plain environment. Compiled templates are cached by
their text, since a flow renders the same template for every line.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any, Callable, Iterable

from promptflow_lite.errors import UserError
from promptflow_lite.tools._chat import Escaper

_IMAGE_MARKER = re.compile(r"\!\[(\s*image\s*)\]\(\{\{(\s*[^\s{}]+\s*)\}\}\)")
_IMAGE_INPUT = re.compile(r"\!\[(\s*image\s*)\]\(\{\{\s*([^{}]+)\s*\}\}\)")



class NodeInputValidationError(UserError):
    """A node's template variable has the name of a tool parameter, or similar input clash."""

class JinjaTemplateError(UserError):
    """A prompt template does not parse or fails to render."""


class PromptResult(str):
    """The output of a prompt node: the rendered text, plus how to re-escape it downstream.

    ``escaped_string`` is the same render with role markers of user-typed values replaced by
    tokens, and ``escaped_mapping`` maps each token back to its marker (§2.6), so an LLM node
    fed by this prompt cannot be tricked into new messages by those values.
    """

    def __init__(self, string: str = "") -> None:
        super().__init__()
        self.original_string = str(string)
        self.escaped_string = ""
        self.escaped_mapping: dict[str, str] = {}

    def get_escape_string(self) -> str:
        return self.escaped_string

    def set_escape_string(self, escaped_string: str) -> None:
        self.escaped_string = escaped_string

    def get_escape_mapping(self) -> dict[str, str]:
        return self.escaped_mapping

    def set_escape_mapping(self, escape_mapping: dict[str, str]) -> None:
        self.escaped_mapping = escape_mapping

    def need_to_escape(self) -> bool:
        return bool(self.escaped_mapping)


def _sandboxed() -> bool:
    return os.environ.get("PF_USE_SANDBOX_FOR_JINJA", "true").lower() != "false"


@lru_cache(maxsize=2)
def _environment(sandboxed: bool):
    from jinja2 import Environment
    from jinja2.sandbox import SandboxedEnvironment

    cls = SandboxedEnvironment if sandboxed else Environment
    return cls(trim_blocks=True, keep_trailing_newline=True)


@lru_cache(maxsize=512)
def _compile(template: str, sandboxed: bool):
    return _environment(sandboxed).from_string(template)


def render_template(template: str, /, **variables: Any) -> str:
    """Render ``template`` with ``variables``; errors become :class:`JinjaTemplateError`."""
    return render_with_escapes(template, {}, **variables)


def render_with_escapes(template: str, escapes: dict[str, str], /, **variables: Any) -> str:
    """``render_template``, but error messages show escaped role markers restored."""
    try:
        return _compile(template, _sandboxed()).render(**variables)
    except Exception as exc:
        detail = str(exc)
        for token, marker in escapes.items():
            detail = detail.replace(token, marker)
        raise JinjaTemplateError(
            f"Failed to render jinja template: {type(exc).__name__}: {detail}.",
            hint="Please modify your prompt to fix the issue.",
        ) from exc


def check_template(template: str, file: str | None = None) -> None:
    """Raise :class:`JinjaTemplateError` now if ``template`` has a syntax error."""
    try:
        _compile(template, _sandboxed())
    except Exception as exc:
        line = getattr(exc, "lineno", None)
        raise JinjaTemplateError(f"Failed to render jinja template: {type(exc).__name__}: {exc}.", file=file,
                                 line=line, hint="Please modify your prompt to fix the issue.") from exc


def template_variables(template: str) -> list[str]:
    """Undeclared variables of ``template``, ordered by their first occurrence in the text."""
    from jinja2 import Environment, meta

    parsed = Environment().parse(template)
    return sorted(meta.find_undeclared_variables(parsed), key=template.find)


def clashing_variables(template: str, reserved: Iterable[str], node: str | None, owner: str) -> None:
    """Raise promptflow's error when the template uses a variable named like a parameter of its tool
    (``owner`` says whose: "the reserved parameters of prompt tool", "the parameters of OpenAI.chat"...)."""
    clash = set(template_variables(template)) & set(reserved)
    if clash:
        raise NodeInputValidationError(
            f"Invalid inputs {clash} in prompt template of node {node}. These inputs are duplicated with {owner}.",
            node=node, hint="rename these variables in the template and the node's inputs.")


def image_variables(template: str) -> list[str]:
    """Variables placed as images with ``![image]({{name}})``."""
    return [m.group(2).strip() for m in _IMAGE_INPUT.finditer(template)]


def place_images_on_own_lines(template: str) -> str:
    """Rewrite ``![image]({{x}})`` to ``\\n{{x}}\\n`` so each image renders on a line of its own."""
    for label, name in _IMAGE_MARKER.findall(template):
        template = template.replace(f"![{label}]({{{{{name}}}}})", f"\n{{{{{name}}}}}\n")
    return template


def make_prompt_renderer(template: str, file: str | None = None) -> Callable[..., PromptResult]:
    """The callable of a ``prompt`` node: ``renderer(**inputs) -> PromptResult``.

    Syntax errors are raised here, at load time. ``_inputs_to_escape`` may be passed among
    the inputs to name those that came straight from flow inputs.
    """
    check_template(template, file)

    def render(**inputs: Any) -> PromptResult:
        return render_prompt(template, **inputs)

    return render


def render_prompt(template: str, /, **inputs: Any) -> PromptResult:
    """promptflow's ``render_template_jinja2``: render, and keep an escaped twin (§2.6).

    ``inputs["_inputs_to_escape"]`` names inputs that came straight from flow inputs; their
    role markers, and those of upstream ``PromptResult`` values, are escaped in the twin.
    """
    to_escape = inputs.pop(Escaper.INPUTS_KEY, None) or []
    result = PromptResult(render_template(template, **inputs))
    mapping = Escaper.build_escape_dict(to_escape, inputs)
    if mapping:
        result.set_escape_mapping(mapping)
        escaped_inputs = Escaper.escape_kwargs(mapping, to_escape, inputs)
        result.set_escape_string(render_with_escapes(template, mapping, **escaped_inputs))
    return result
