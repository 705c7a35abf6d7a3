"""promptflow's vision tools: OpenAI GPT-4V, Azure OpenAI GPT-4V and ``llm_vision`` (FLOW_FORMAT §2.5).

Their prompt places images with ``![image]({{var}})``; every ``Image`` among the template
variables is sent as an ``image_url`` part (its source URL, else a base64 data URI). As in
promptflow, ``detail`` reaches the template as a variable and images go with ``"detail": "auto"``;
``n`` is 1 and ``stream``, ``presence_penalty`` and ``frequency_penalty`` are always sent.
"""

from __future__ import annotations

from typing import Any

from promptflow_lite._compat.contracts import PromptTemplate
from promptflow_lite.connections._types import AzureOpenAIConnection, OpenAIConnection
from promptflow_lite.tools._chat import convert_to_chat_list
from promptflow_lite.tools._decorator import ToolProvider, tool
from promptflow_lite.tools._llm import api_args, twins
from promptflow_lite.tools._llm_client import InvalidConnectionType, resolve_endpoint
from promptflow_lite.tools._llm_params import CHAT, ModelRequest, build_messages, model_name, to_bool
from promptflow_lite.tools._multimedia import images_in
from promptflow_lite.tools._template import place_images_on_own_lines


def vision_request(connection: Any, prompt: str, args: dict[str, Any], variables: dict[str, Any]) -> ModelRequest:
    """The chat request of a vision tool for ``args`` (API parameters) and template ``variables``."""
    endpoint = resolve_endpoint(connection)
    images = list(dict.fromkeys(images_in(variables)))
    variables = {**variables, "detail": args.get("detail", "auto")}  # promptflow passes it as a variable
    messages = build_messages(place_images_on_own_lines(prompt), images=images, **convert_to_chat_list(variables))
    stream = to_bool(args.get("stream", False))
    params: dict[str, Any] = {
        "model": model_name(endpoint, args.get("deployment_name", ""), args.get("model", "")),
        "messages": messages, "temperature": float(args.get("temperature", 1.0)),
        "top_p": float(args.get("top_p", 1.0)), "n": 1,
        "presence_penalty": float(args.get("presence_penalty") or 0),
        "frequency_penalty": float(args.get("frequency_penalty") or 0),
    }
    if args.get("stop"):
        params["stop"] = args["stop"]
    if args.get("max_tokens") is not None:
        params["max_tokens"] = int(args["max_tokens"])
    if args.get("seed") is not None:
        params["seed"] = args["seed"]
    return ModelRequest(CHAT, endpoint, params, stream)


def _openai_vision_chat(connection: OpenAIConnection, prompt: PromptTemplate, model: str = "gpt-4-vision-preview",
                        temperature: float = 1.0, top_p: float = 1.0, stream: bool = False, stop: list = None,
                        max_tokens: int = None, presence_penalty: float = 0, frequency_penalty: float = 0,
                        seed: int = None, detail: str = "auto", **kwargs: Any) -> ModelRequest:
    """OpenAI GPT-4V chat; ``kwargs`` are template variables (images among them are sent)."""
    return vision_request(connection, prompt, api_args(locals()), kwargs)


def _aoai_vision_chat(connection: AzureOpenAIConnection, prompt: PromptTemplate, deployment_name: str,
                      temperature: float = 1.0, top_p: float = 1.0, stream: bool = False, stop: list = None,
                      max_tokens: int = None, presence_penalty: float = 0, frequency_penalty: float = 0,
                      seed: int = None, detail: str = "auto", **kwargs: Any) -> ModelRequest:
    """Azure OpenAI GPT-4V chat; ``kwargs`` are template variables (images among them are sent)."""
    return vision_request(connection, prompt, api_args(locals()), kwargs)


def _llm_vision(connection: AzureOpenAIConnection | OpenAIConnection, prompt: PromptTemplate,
                deployment_name: str = "", model: str = "", temperature: float = 1.0, top_p: float = 1.0,
                stream: bool = False, stop: list = None, max_tokens: int = None, presence_penalty: float = 0,
                frequency_penalty: float = 0, seed: int = None, detail: str = "auto", **kwargs: Any) -> ModelRequest:
    """The LLM vision tool: GPT-4V chat on an Azure OpenAI or OpenAI connection."""
    if not isinstance(connection, (AzureOpenAIConnection, OpenAIConnection)):
        raise InvalidConnectionType(f"Not Support connection type '{type(connection).__name__}' for llm. Connection "
                                    "type should be in [AzureOpenAIConnection, OpenAIConnection].")
    args = api_args(locals())
    args.pop("model" if isinstance(connection, AzureOpenAIConnection) else "deployment_name")
    return vision_request(connection, prompt, args, kwargs)


openai_vision_chat, openai_vision_chat_async = twins(_openai_vision_chat, "chat")
aoai_vision_chat, aoai_vision_chat_async = twins(_aoai_vision_chat, "chat")
llm_vision, llm_vision_async = twins(_llm_vision, "llm_vision")
for _func in (openai_vision_chat, openai_vision_chat_async, aoai_vision_chat, aoai_vision_chat_async,
              llm_vision, llm_vision_async):
    tool(_func, type="custom_llm", streaming_option_parameter="stream")


class OpenAI(ToolProvider):
    """promptflow.tools.openai_gpt4v.OpenAI: ``OpenAI(connection).chat(prompt, model, ...)``."""

    def __init__(self, connection: OpenAIConnection):
        super().__init__()
        self.connection = connection

    def chat(self, prompt: PromptTemplate, **kwargs: Any) -> Any:
        return openai_vision_chat(self.connection, prompt, **kwargs)


class AzureOpenAI(ToolProvider):
    """promptflow.tools.aoai_gpt4v.AzureOpenAI: ``AzureOpenAI(connection).chat(prompt, deployment_name, ...)``."""

    def __init__(self, connection: AzureOpenAIConnection):
        super().__init__()
        self.connection = connection

    def chat(self, prompt: PromptTemplate, deployment_name: str, **kwargs: Any) -> Any:
        return aoai_vision_chat(self.connection, prompt, deployment_name, **kwargs)


VISION_TOOLS = {
    "promptflow.tools.openai_gpt4v.OpenAI.chat": openai_vision_chat,
    "promptflow.tools.aoai_gpt4v.AzureOpenAI.chat": aoai_vision_chat,
    "promptflow.tools.llm_vision.llm_vision": llm_vision,
}
"""Tool id → function (``connection`` first: what promptflow's provider init argument becomes)."""

VISION_TWINS = {openai_vision_chat: openai_vision_chat_async, aoai_vision_chat: aoai_vision_chat_async,
                llm_vision: llm_vision_async}
