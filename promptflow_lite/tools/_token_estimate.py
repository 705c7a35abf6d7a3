"""A cheap estimate of the tokens of a streamed model call whose server sent no usage.

OpenAI-compatible servers send token counts with a stream only when asked
(``stream_options={"include_usage": True}``), which promptflow's LLM tool never does. Then the
counts are estimated, as promptflow does: the completion counts one token per streamed content
chunk (servers stream about one token per chunk) or a quarter of its characters when that is
more; the prompt counts a quarter of the characters of each message (OpenAI's rule of thumb for
English), plus 3 tokens of framing per message and 3 for the reply's priming (OpenAI's chat
format). No tokenizer is loaded: ``tiktoken`` would download its vocabulary from the internet
on first use. Callers label the counts as estimated.
"""

from __future__ import annotations

from typing import Any

_CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3  # <|start|>role ... <|end|>
_PRIMING = 3  # <|start|>assistant<|message|>


def estimate_usage(api: str, request: dict[str, Any], completion: str, chunks: int) -> dict[str, int]:
    """``{prompt_tokens, completion_tokens, total_tokens}`` of a streamed ``api`` call ("chat",
    "completion") that sent ``request`` and received ``completion`` in ``chunks`` content chunks."""
    if api == "chat":
        messages = request.get("messages") or []
        prompt = sum(_PER_MESSAGE + _message_tokens(m) for m in messages if isinstance(m, dict)) + _PRIMING
    else:
        prompt = _text_tokens(request.get("prompt"))
    completion_tokens = max(chunks, text_tokens(completion))
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


def text_tokens(text: str) -> int:
    """About how many tokens ``text`` takes (a quarter of its characters, at least 1 if any)."""
    return -(-len(text) // _CHARS_PER_TOKEN) if text else 0


def _message_tokens(message: dict[str, Any]) -> int:
    tokens = _text_tokens(message.get("content")) + _text_tokens(message.get("name"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            tokens += _text_tokens(function.get("name")) + _text_tokens(function.get("arguments"))
    return tokens


def _text_tokens(value: Any) -> int:
    """Tokens of a prompt, message content or name: text, a list of them, or content parts."""
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, list):
        return sum(_text_tokens(item.get("text") if isinstance(item, dict) else item) for item in value)
    return 0
