"""Rendered chat prompts → OpenAI messages, exactly as promptflow parses them (FLOW_FORMAT §2.6).

A line holding only an optional ``#``, a role and a colon (``# system:``, ``user:``) starts a
message. ``## name:`` / ``## content:`` name a message (required for ``function``),
``## tool_calls:`` gives an assistant's tool calls as a Python literal list and
``## tool_call_id:`` / ``## content:`` form a ``tool`` message. :class:`Escaper` keeps role
markers typed by users (flow inputs, upstream prompt outputs) from starting new messages.
"""

from __future__ import annotations

import ast
import re
import uuid
from typing import Any, Iterable, Mapping

from promptflow_lite.errors import UserError

VALID_ROLES = ["system", "user", "assistant", "function", "tool"]


class ChatAPIInvalidRole(UserError):
    """Text before the first role marker, or an unknown role."""


class ChatAPIFunctionRoleInvalidFormat(UserError):
    """A ``function`` message without ``name:`` / ``content:``."""


class ChatAPIToolRoleInvalidFormat(UserError):
    """A ``tool`` message without ``tool_call_id:`` / ``content:``."""


def _role_separator(roles: Iterable[str]) -> str:
    return r"(?i)^\s*#?\s*(" + "|".join(roles) + r")\s*:\s*\n"


_MARKER = re.compile(_role_separator(VALID_ROLES), flags=re.MULTILINE)
_NAME_CONTENT = re.compile(r"\n*#{0,2}\s*name\s*:\s*\n+\s*(\S+)\s*\n*#{0,2}\s*content\s*:\s*\n?(.*)", re.DOTALL)
_TOOL_CALL_ID = re.compile(
    r"\n*#{0,2}\s*tool_call_id\s*:\s*\n+\s*(\S+)\s*\n*#{0,2}\s*content\s*:\s*\n?(.*)", re.DOTALL)
_TOOL_CALLS = re.compile(r"\n*#{0,2}\s*tool_calls\s*:\s*\n+\s*(\[.*?\])", re.DOTALL)


class ChatInputList(list):
    """A list whose ``str()`` joins its items by newlines (chat history in AzureOpenAI templates)."""

    def __str__(self) -> str:
        return "\n".join(map(str, self))


def convert_to_chat_list(obj: Any) -> Any:
    """Lists (also nested in dicts) become :class:`ChatInputList`."""
    if isinstance(obj, dict):
        return {key: convert_to_chat_list(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return ChatInputList([convert_to_chat_list(item) for item in obj])
    return obj


def parse_chat(text: str, images: Iterable[Any] | None = None, valid_roles: list[str] | None = None,
               image_detail: str = "auto", escape_dict: Mapping[str, str] | None = None) -> list[dict]:
    """Split a rendered chat prompt into messages (``role``, ``content``, maybe ``name``...).

    A content line equal to ``str(image)`` for one of ``images`` becomes an ``image_url``
    part and the content a list of parts.
    """
    roles = valid_roles or VALID_ROLES
    escape_dict = escape_dict or {}
    images_by_text = {str(image): image for image in images or []}
    chunks = re.split(_role_separator(roles), text, flags=re.MULTILINE)
    messages: list[dict] = []
    for chunk in chunks:
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "tool" and "content" not in last:
            found = _TOOL_CALL_ID.search(chunk)
            if found is None:
                raise ChatAPIToolRoleInvalidFormat(
                    "Failed to parse tool role prompt. Please make sure the prompt follows the format: "
                    "'tool_call_id:\\ntool_call_id\\ncontent:\\ntool_content'. 'tool_call_id' is required if role "
                    "is tool, and it should be the tool call that this message is responding to.",
                    hint="see https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages")
            last["tool_call_id"] = found.group(1)
            last["content"] = _content(found.group(2), images_by_text, image_detail)
            continue
        if last is not None and last["role"] == "assistant":
            tool_calls = _tool_calls(chunk)
            if tool_calls is not None:
                last["tool_calls"] = tool_calls
                continue
        if last is not None and "content" not in last and "tool_calls" not in last:
            found = _NAME_CONTENT.search(chunk)
            if found is not None:
                last["name"] = found.group(1)
                last["content"] = _content(found.group(2), images_by_text, image_detail)
            elif last["role"] == "function":
                raise ChatAPIFunctionRoleInvalidFormat(
                    "Failed to parse function role prompt. Please make sure the prompt follows the format: "
                    "'name:\\nfunction_name\\ncontent:\\nfunction_content'. 'name' is required if role is function, "
                    "and it should be the name of the function whose response is in the content. May contain a-z, "
                    "A-Z, 0-9, and underscores, with a maximum length of 64 characters.",
                    hint="see https://platform.openai.com/docs/api-reference/chat/create#chat/create-name or the "
                         "sample 'How to use functions with chat models'.")
            else:
                last["content"] = _content(chunk, images_by_text, image_detail)
        elif chunk.strip():
            role = chunk.strip().lower()
            _validate_role(role, roles, escape_dict)
            messages.append({"role": role})
    return messages


def _validate_role(role: str, roles: list[str], escape_dict: Mapping[str, str]) -> None:
    if role in roles:
        return
    delimiters = ",".join(f"'{r}:\\n'" for r in roles)
    raise ChatAPIInvalidRole(
        f"The Chat API requires a specific format for prompt definition, and the prompt should include separate "
        f"lines as role delimiters: {delimiters}. Current parsed role '{Escaper.unescape_roles(role, escape_dict)}' "
        f"does not meet the requirement. If you intend to use the Completion API, please select the appropriate API "
        f"type and deployment name. If you do intend to use the Chat API, please refer to the guideline at "
        f"https://aka.ms/pfdoc/chat-prompt or view the samples in our gallery that contain 'Chat' in the name.")


def _tool_calls(chunk: str) -> list | None:
    found = _TOOL_CALLS.search(chunk)
    if found is None:
        return None
    try:
        return ast.literal_eval(found.group(1))
    except Exception:
        return None


def _content(text: str, images_by_text: Mapping[str, Any], image_detail: str) -> str | list[dict]:
    text = text.strip()
    parts: list[dict] = []
    has_image = False
    for line in text.split("\n"):
        image = images_by_text.get(line.strip())
        if image is not None:
            url = getattr(image, "source_url", None) or f"data:{image._mime_type};base64,{image.to_base64()}"
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": image_detail}})
            has_image = True
        elif line.strip():
            parts.append({"type": "text", "text": line})
    return parts if has_image else text


class Escaper:
    """Neutralise role markers inside values before rendering; restore them after parsing.

    Each role word found on a marker line of an escaped value (``System`` in ``"System:\\n"``)
    is replaced everywhere in that value by a random token; ``escape_dict`` maps token → word.
    Values to escape: inputs named in ``_inputs_to_escape`` (they came straight from flow
    inputs) and ``PromptResult`` values of upstream prompt nodes, which carry their own mapping.
    Unlike promptflow, plain lists are escaped too and input dicts are copied, never mutated.
    """

    INPUTS_KEY = "_inputs_to_escape"

    @staticmethod
    def _is_escaped_prompt(value: Any) -> bool:
        need = getattr(value, "need_to_escape", None)
        return isinstance(value, str) and callable(need) and need()

    @staticmethod
    def build_escape_dict(inputs_to_escape: Iterable[str] | None, kwargs: Mapping[str, Any]) -> dict[str, str]:
        """Token → role word for every value to escape (prompt results first, then flow inputs)."""
        escape_dict: dict[str, str] = {}
        for value in kwargs.values():
            if Escaper._is_escaped_prompt(value):
                escape_dict.update(value.get_escape_mapping())
        names = set(inputs_to_escape or ())
        found: dict[str, str] = {}
        for key, value in kwargs.items():
            if key in names:
                Escaper._collect_roles(value, found)
        escape_dict.update(found)
        return escape_dict

    @staticmethod
    def _collect_roles(value: Any, escape_dict: dict[str, str]) -> None:
        if isinstance(value, (list, tuple)):
            for item in value:
                Escaper._collect_roles(item, escape_dict)
        elif isinstance(value, dict):
            for item in value.values():
                Escaper._collect_roles(item, escape_dict)
        elif isinstance(value, str):
            for role in _MARKER.findall(value):
                if role not in escape_dict.values():
                    escape_dict[str(uuid.uuid4())] = role

    @staticmethod
    def escape_value(value: Any, escape_dict: Mapping[str, str]) -> Any:
        """``value`` with every escaped role word replaced by its token (lists/dicts recursively)."""
        if not escape_dict:
            return value
        if isinstance(value, str):
            for token, role in escape_dict.items():
                value = value.replace(role, token)
            return value
        if isinstance(value, list):
            return type(value)(Escaper.escape_value(item, escape_dict) for item in value)
        if isinstance(value, dict):
            return {k: Escaper.escape_value(v, escape_dict) for k, v in value.items()}
        return value

    @staticmethod
    def escape_kwargs(escape_dict: Mapping[str, str], inputs_to_escape: Iterable[str] | None,
                      kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Template variables with user-typed role markers replaced by tokens."""
        names = set(inputs_to_escape or ())
        updated = {}
        for key, value in kwargs.items():
            if Escaper._is_escaped_prompt(value):
                updated[key] = value.get_escape_string()
            elif key in names:
                updated[key] = Escaper.escape_value(value, escape_dict)
            else:
                updated[key] = value
        return updated

    @staticmethod
    def unescape_roles(value: Any, escape_dict: Mapping[str, str]) -> Any:
        """Tokens back to role words, in a string or in the text parts of a content list."""
        if not escape_dict:
            return value
        if isinstance(value, str):
            for token, role in escape_dict.items():
                value = value.replace(token, role)
            return value
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "text" in item:
                    for token, role in escape_dict.items():
                        item["text"] = item["text"].replace(token, role)
        return value

    @staticmethod
    def unescape_messages(messages: list[dict], escape_dict: Mapping[str, str]) -> list[dict]:
        if escape_dict:
            for message in messages:
                for key, value in message.items():
                    message[key] = Escaper.unescape_roles(value, escape_dict)
        return messages
