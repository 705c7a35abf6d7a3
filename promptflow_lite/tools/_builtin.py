"""promptflow's built-in package tools, with the same ids, signatures and behaviour (§2.5).

Each tool is a plain sync function (flow code calls ``promptflow.tools.openai.chat(...)``
directly) with an async twin in :data:`ASYNC_TWINS` that executors prefer, so a batch overlaps
its HTTP waits. :data:`BUILTIN_TOOLS` maps tool ids to functions; :data:`LLM_APIS` maps
``(provider, api)`` to the function a ``type: llm`` node runs (see :mod:`._llm_node`). :class:`AzureOpenAI` / :class:`OpenAI` are promptflow's provider classes.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from promptflow_lite._compat.contracts import PromptTemplate
from promptflow_lite.connections._types import AzureOpenAIConnection, OpenAIConnection, ServerlessConnection
from promptflow_lite.errors import UserError
from promptflow_lite.tools import _chat
from promptflow_lite.tools._decorator import ToolProvider, tool
from promptflow_lite.tools._llm import api_args, twins
from promptflow_lite.tools._llm_client import AZURE, OPENAI, InvalidConnectionType
from promptflow_lite.tools._llm_params import ModelRequest, chat_request, completion_request, embedding_request
from promptflow_lite.tools._template import (  # noqa: F401 (NodeInputValidationError re-exported)
    NodeInputValidationError, PromptResult, render_prompt, render_with_escapes)
from promptflow_lite.tools._vision import VISION_TOOLS, VISION_TWINS


class APINotFound(UserError):
    """No LLM api of that name for the connection's provider."""


# ---------------------------------------------------------------------------------------------
# AzureOpenAI / OpenAI chat and completion (promptflow.tools.aoai / promptflow.tools.openai)


def _aoai_chat(connection: AzureOpenAIConnection, prompt: PromptTemplate, deployment_name: str,
               temperature: float = 1.0, top_p: float = 1.0, n: int = 1, stream: bool = False, stop: list = None,
               max_tokens: int = None, presence_penalty: float = None, frequency_penalty: float = None,
               logit_bias: dict = None, user: str = "", function_call: object = None, functions: list = None,
               tool_choice: object = None, tools: list = None, response_format: object = None, seed: int = None,
               **kwargs: Any) -> ModelRequest:
    """Azure OpenAI chat; ``kwargs`` are template variables."""
    return chat_request(connection, prompt, api_args(locals()), kwargs)


def _aoai_completion(connection: AzureOpenAIConnection, prompt: PromptTemplate, deployment_name: str,
                     suffix: str = None, max_tokens: int = 16, temperature: float = 1.0, top_p: float = 1.0,
                     n: int = 1, stream: bool = False, logprobs: int = None, echo: bool = False, stop: list = None,
                     presence_penalty: float = None, frequency_penalty: float = None, best_of: int = 1,
                     logit_bias: dict = None, user: str = "", **kwargs: Any) -> ModelRequest:
    """Azure OpenAI text completion; ``kwargs`` are template variables."""
    return completion_request(connection, prompt, api_args(locals()), kwargs)


def _openai_chat(connection: OpenAIConnection, prompt: PromptTemplate, model: str = "", temperature: float = 1.0,
                 top_p: float = 1.0, stream: bool = False, stop: list = None, max_tokens: int = None,
                 presence_penalty: float = None, frequency_penalty: float = None, logit_bias: dict = None,
                 user: str = "", function_call: object = None, functions: list = None, tool_choice: object = None,
                 tools: list = None, response_format: object = None, seed: int = None,
                 **kwargs: Any) -> ModelRequest:
    """OpenAI chat; ``kwargs`` are template variables."""
    return chat_request(connection, prompt, api_args(locals()), kwargs)


def _openai_completion(connection: OpenAIConnection, prompt: PromptTemplate, model: str = "text-davinci-003",
                       suffix: str = None, max_tokens: int = 16, temperature: float = 1.0, top_p: float = 1.0,
                       n: int = 1, stream: bool = False, logprobs: int = None, echo: bool = False, stop: list = None,
                       presence_penalty: float = None, frequency_penalty: float = None, best_of: int = 1,
                       logit_bias: dict = None, user: str = "", **kwargs: Any) -> ModelRequest:
    """OpenAI text completion; ``kwargs`` are template variables."""
    return completion_request(connection, prompt, api_args(locals()), kwargs)


aoai_chat, aoai_chat_async = twins(_aoai_chat, "chat")
aoai_completion, aoai_completion_async = twins(_aoai_completion, "completion")
openai_chat, openai_chat_async = twins(_openai_chat, "chat")
openai_completion, openai_completion_async = twins(_openai_completion, "completion")


# ---------------------------------------------------------------------------------------------
# promptflow.tools.llm.llm (custom_llm) and promptflow.tools.embedding.embedding


def _llm(connection: AzureOpenAIConnection | OpenAIConnection | ServerlessConnection, prompt: PromptTemplate,
         api: str = "chat", deployment_name: str = "", model: str = "", temperature: float = 1.0, top_p: float = 1.0,
         stream: bool = False, stop: list = None, max_tokens: int = None, presence_penalty: float = None,
         frequency_penalty: float = None, logit_bias: dict = None, tool_choice: object = None, tools: list = None,
         response_format: object = None, seed: int = None, suffix: str = None, logprobs: int = None,
         echo: bool = False, best_of: int = 1, **kwargs: Any) -> ModelRequest:
    """The LLM tool: chat or completion on an Azure OpenAI, OpenAI or serverless connection."""
    args = api_args(locals())
    provider = llm_provider(connection)
    if (provider, api) not in LLM_APIS:
        raise APINotFound(f"The LLM tool has no api '{api}'.", hint="set api to chat or completion.")
    names = api_parameters(provider, api)
    given = {k: v for k, v in args.items() if k in names}
    given.update({k: v for k, v in kwargs.items() if k in names})  # promptflow forwards these as API arguments
    variables = {k: v for k, v in kwargs.items() if k not in names}
    request = chat_request if api == "chat" else completion_request
    return request(connection, prompt, given, variables)


def _embedding(connection: AzureOpenAIConnection | OpenAIConnection | ServerlessConnection, input: str,  # noqa: A002
               deployment_name: str = "", model: str = "text-embedding-ada-002") -> ModelRequest:
    """The embedding vector (``list[float]``) of ``input``."""
    return embedding_request(connection, input, deployment_name, model)


llm, llm_async = twins(_llm, "llm")
embedding, embedding_async = twins(_embedding, "embedding")
for _func in (llm, llm_async):
    tool(_func, type="custom_llm", streaming_option_parameter="stream")


# ---------------------------------------------------------------------------------------------
# template helpers (promptflow.tools.common, promptflow.tools.template_rendering)


def parse_chat(chat_str: str, images: list = None, valid_roles: list = None, image_detail: str = "auto",
               escape_dict: dict = None) -> list[dict]:
    """promptflow.tools.common.parse_chat."""
    return _chat.parse_chat(chat_str, images, valid_roles, image_detail, escape_dict)


def render_jinja_template(template_content: str, trim_blocks: bool = True, keep_trailing_newline: bool = True,
                          escape_dict: dict = None, **kwargs: Any) -> str:
    """promptflow.tools.common.render_jinja_template (blocks trimmed, trailing newline kept)."""
    return render_with_escapes(template_content, escape_dict or {}, **kwargs)


def render_template_jinja2(template: str, **kwargs: Any) -> PromptResult:
    """The prompt tool: the rendered template as a :class:`PromptResult`."""
    return render_prompt(template, **kwargs)


# ---------------------------------------------------------------------------------------------
# providers, registries


def _method(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func(connection, ...)`` as a method using ``self.connection``."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if inspect.iscoroutinefunction(func):
        async def method(self, *args: Any, **kwargs: Any) -> Any:
            return await func(self.connection, *args, **kwargs)
    else:
        def method(self, *args: Any, **kwargs: Any) -> Any:
            return func(self.connection, *args, **kwargs)
    method.__name__ = method.__qualname__ = func.__name__
    method.__doc__ = func.__doc__
    method.__signature__ = signature.replace(parameters=[self_param, *params[1:]])  # type: ignore[attr-defined]
    method.__annotations__ = {k: v for k, v in func.__annotations__.items() if k != params[0].name}
    return method


class AzureOpenAI(ToolProvider):
    """promptflow.tools.aoai.AzureOpenAI: ``AzureOpenAI(connection).chat(prompt, deployment_name, ...)``."""

    def __init__(self, connection: AzureOpenAIConnection):
        super().__init__()
        self.connection = connection

    chat = tool(_method(aoai_chat))
    completion = tool(_method(aoai_completion))
    chat_async = _method(aoai_chat_async)
    completion_async = _method(aoai_completion_async)


class OpenAI(ToolProvider):
    """promptflow.tools.openai.OpenAI: ``OpenAI(connection).chat(prompt, model, ...)``."""

    def __init__(self, connection: OpenAIConnection):
        super().__init__()
        self.connection = connection

    chat = tool(_method(openai_chat))
    completion = tool(_method(openai_completion))
    chat_async = _method(openai_chat_async)
    completion_async = _method(openai_completion_async)


for _name in ("chat", "completion"):  # tool names of the methods, as promptflow's tool ids
    getattr(AzureOpenAI, _name).__qualname__ = f"AzureOpenAI.{_name}"
    getattr(OpenAI, _name).__qualname__ = f"OpenAI.{_name}"

BUILTIN_TOOLS: dict[str, Callable[..., Any]] = {
    "promptflow.tools.llm.llm": llm,
    "promptflow.tools.embedding.embedding": embedding,
    "promptflow.tools.aoai.AzureOpenAI.chat": aoai_chat,
    "promptflow.tools.aoai.AzureOpenAI.completion": aoai_completion,
    "promptflow.tools.openai.OpenAI.chat": openai_chat,
    "promptflow.tools.openai.OpenAI.completion": openai_completion,
    "promptflow.tools.aoai.chat": aoai_chat,
    "promptflow.tools.aoai.completion": aoai_completion,
    "promptflow.tools.openai.chat": openai_chat,
    "promptflow.tools.openai.completion": openai_completion,
    "promptflow.tools.common.parse_chat": parse_chat,
    "promptflow.tools.common.render_jinja_template": render_jinja_template,
    "promptflow.tools.template_rendering.render_template_jinja2": render_template_jinja2,
    **VISION_TOOLS,
}
"""Tool id → plain function. Provider-class ids (``...AzureOpenAI.chat``) map to the function
taking ``connection`` as its first parameter, which is what promptflow's init argument becomes."""

TOOL_TYPES: dict[str, str] = {tool_id: "custom_llm" if tool_id.endswith(".llm.llm") or tool_id in VISION_TOOLS else
                              ("llm" if "OpenAI." in tool_id else "python") for tool_id in BUILTIN_TOOLS}

ASYNC_TWINS: dict[Callable[..., Any], Callable[..., Any]] = {
    llm: llm_async, embedding: embedding_async,
    aoai_chat: aoai_chat_async, aoai_completion: aoai_completion_async,
    openai_chat: openai_chat_async, openai_completion: openai_completion_async,
    AzureOpenAI.chat: AzureOpenAI.chat_async, AzureOpenAI.completion: AzureOpenAI.completion_async,
    OpenAI.chat: OpenAI.chat_async, OpenAI.completion: OpenAI.completion_async,
    **VISION_TWINS,
}
"""Sync built-in (function, or method as found on its class) → async twin with the same signature."""


def async_twin(func: Callable[..., Any]) -> Callable[..., Any] | None:
    """The async twin of a built-in tool, bound like ``func`` when it is a bound method."""
    twin = ASYNC_TWINS.get(getattr(func, "__func__", func))
    owner = getattr(func, "__self__", None)
    return twin.__get__(owner) if twin is not None and owner is not None else twin


LLM_APIS: dict[tuple[str, str], Callable[..., Any]] = {
    (AZURE, "chat"): aoai_chat, (AZURE, "completion"): aoai_completion,
    (OPENAI, "chat"): openai_chat, (OPENAI, "completion"): openai_completion,
}
"""``(provider, api)`` → the function a ``type: llm`` node runs (``connection``, ``prompt`` first)."""

def api_parameters(provider: str, api: str) -> frozenset[str]:
    """Parameter names of ``provider.api`` (template variables must not use them)."""
    func = LLM_APIS[(provider, api)]
    return frozenset(name for name, p in inspect.signature(func).parameters.items() if p.kind != p.VAR_KEYWORD)


def llm_provider(connection: Any) -> str:
    """``AzureOpenAI`` or ``OpenAI`` (also for serverless), from the connection's class."""
    if isinstance(connection, AzureOpenAIConnection):
        return AZURE
    if isinstance(connection, (OpenAIConnection, ServerlessConnection)):
        return OPENAI
    raise InvalidConnectionType(
        f"Connection type {type(connection).__name__} is not supported for LLM.",
        hint="use a connection of type AzureOpenAIConnection, OpenAIConnection or ServerlessConnection.")

