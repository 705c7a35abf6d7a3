"""Rules: which answer the scripted server gives to which prompt.

A rule's ``match`` regex is searched (``re.S``) in the prompt text; the first matching rule
answers, with ``reply`` expanded by the match (``\\1``, ``\\g<name>``). Rules come from Python
(``Rule(r"capital of (\\w+)", r"The capital of \\1 is X.")``) or from a YAML/JSON file holding a
list of rules (or ``{"rules": [...]}``; ``include: [other.yaml, ...]`` adds the rules of other
files, relative to it, first). Without a matching rule the answer is a stable hash.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import re
from collections import Counter
from dataclasses import field
from pathlib import Path
from typing import Any, NamedTuple, Union

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from promptflow_lite.errors import UserError

STRICT = ConfigDict(extra="forbid")


@dataclass(config=STRICT)
class ToolCall:
    """One function call the assistant asks for; ``arguments`` (dict or JSON text) is expanded too.

    The OpenAI shape ``{"id", "type": "function", "function": {"name", "arguments"}}`` is accepted.
    """

    name: str
    arguments: Union[dict, str] = field(default_factory=dict)
    id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_openai_shape(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("function"), dict):
            return {**data["function"], **({"id": data["id"]} if data.get("id") else {})}
        return data


class Answer(NamedTuple):
    """What the assistant says: text and/or tool calls (OpenAI shape) and why it stopped."""

    content: str | None
    tool_calls: list[dict] | None = None
    role: str = "assistant"
    finish_reason: str | None = None


@dataclass(config=STRICT)
class Rule:
    """How to answer prompts whose text matches ``match`` (and whose model matches ``model``).

    ``reply`` is a ``match.expand`` template; ``json`` an object sent serialised (its strings
    expanded); ``tool_calls`` makes an assistant message with ``finish_reason="tool_calls"``.
    ``status`` (+ ``error``, a message or a whole OpenAI error object) always fails with that
    HTTP status; ``fail_first: N`` fails the first N requests of each distinct prompt with 500.
    ``latency_ms`` is added to the server's latency. ``model`` is a regex searched in the model name.
    """

    match: str = ""
    reply: str | None = None
    model: str | None = None
    role: str = "assistant"
    tool_calls: list[ToolCall] | None = None
    json: Any = None
    status: int | None = Field(default=None, ge=400, le=599)
    error: Union[str, dict, None] = None
    fail_first: int = Field(default=0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("match", "model"):
            pattern = getattr(self, name)
            try:
                re.compile(pattern or "", re.S)
            except re.error as exc:
                raise ValueError(f"'{name}' is not a valid regular expression ({exc}): {pattern!r}") from None

    def answer(self, found: re.Match) -> Answer:
        """This rule's reply to the prompt that ``found`` matched."""
        tool_calls = [_tool_call(call, found) for call in self.tool_calls] if self.tool_calls else None
        if self.json is not None:
            content = jsonlib.dumps(_expand_strings(self.json, found), ensure_ascii=False)
        elif self.reply is not None:
            content = found.expand(self.reply)
        else:
            content = None if tool_calls else found.group(0)
        reason = self.finish_reason or ("tool_calls" if tool_calls else "stop")
        return Answer(content, tool_calls, self.role, reason)


class Hit(NamedTuple):
    index: int
    rule: Rule
    found: re.Match


class RuleSet:
    """An ordered list of rules plus the ``fail_first`` counters of each (rule, prompt)."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._failures: Counter[tuple[int, str]] = Counter()

    def find(self, text: str, model: str) -> Hit | None:
        """The first rule matching the prompt ``text`` and ``model``, with its match."""
        for index, rule in enumerate(self.rules):
            if rule.model and not re.search(rule.model, model or "", re.S):
                continue
            found = re.search(rule.match, text, re.S)
            if found:
                return Hit(index, rule, found)
        return None

    def fails_now(self, hit: Hit, text: str) -> bool:
        """Whether this request is one of the first ``fail_first`` for its rule and prompt (counts it)."""
        key = (hit.index, text)
        if self._failures[key] >= hit.rule.fail_first:
            return False
        self._failures[key] += 1
        return True

    def reset(self) -> None:
        self._failures.clear()


RulesSource = Union[None, str, Path, list, tuple, RuleSet]


def load_rules(source: RulesSource) -> list[Rule]:
    """Rules from ``None`` (none), a YAML/JSON file path, or a list of :class:`Rule` or dicts."""
    if source is None:
        return []
    if isinstance(source, RuleSet):
        return list(source.rules)
    file = None
    if isinstance(source, (str, Path)):
        file = str(source)
        source = _read_rules_file(Path(source))
    rules = []
    for number, item in enumerate(source, start=1):
        if isinstance(item, Rule):
            rules.append(item)
            continue
        if not isinstance(item, dict):
            raise UserError(f"Rule {number} must be a mapping, got {type(item).__name__}.", file=file,
                            hint="write each rule as {match: REGEX, reply: TEXT}.")
        try:
            rules.append(Rule(**item))
        except (ValidationError, TypeError, ValueError) as exc:
            raise UserError(f"Rule {number} is invalid: {_first_error(exc)}", file=file,
                            hint="known fields: " + ", ".join(Rule.__dataclass_fields__)) from None
    return rules


def scripted_answer(text: str, model: str) -> str:
    """The default reply: the same for the same prompt and model, different otherwise."""
    return "scripted answer " + hashlib.sha256((text + model).encode()).hexdigest()[:12]


def _read_rules_file(path: Path) -> list:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as exc:
        raise UserError(f"Cannot read the rules file: {exc.strerror}.", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(f"The rules file is not valid YAML: {getattr(exc, 'problem', exc)}.", file=str(path),
                        line=mark.line + 1 if mark else None) from None
    included = []
    if isinstance(data, dict) and "include" in data:  # other rules files, relative to this one, tried first
        names = data["include"] if isinstance(data["include"], list) else [data["include"]]
        for name in names:
            included += _read_rules_file(path.parent / str(name))
        data = data.get("rules") or []
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if data is None:
        return included
    if not isinstance(data, list):
        raise UserError("The rules file must hold a list of rules (or a mapping with a 'rules' list).",
                        file=str(path), hint="write '- match: REGEX\\n  reply: TEXT' items.")
    return included + data


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)


def _expand_strings(value: Any, found: re.Match) -> Any:
    if isinstance(value, str):
        return found.expand(value)
    if isinstance(value, dict):
        return {key: _expand_strings(item, found) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand_strings(item, found) for item in value]
    return value


def _tool_call(call: ToolCall, found: re.Match) -> dict:
    if isinstance(call.arguments, str):
        arguments = found.expand(call.arguments)
    else:
        arguments = jsonlib.dumps(_expand_strings(call.arguments, found), ensure_ascii=False)
    call_id = call.id or "call_" + hashlib.sha256(f"{call.name}:{arguments}".encode()).hexdigest()[:24]
    return {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": arguments}}
