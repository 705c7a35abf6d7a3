import json

from promptflow.core import tool


@tool
def dispatch(message: dict) -> str:
    """With `tools` the llm node returns the assistant message as a dict, not a string."""
    if not isinstance(message, dict):
        return f"not a dict: {type(message).__name__}"
    calls = message.get("tool_calls") or []
    if calls:
        call = calls[0]["function"]
        return f"call {call['name']}({json.loads(call['arguments'])})"
    return f"role={message.get('role')} content={message.get('content')}"
