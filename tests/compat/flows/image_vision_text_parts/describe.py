from promptflow.core import tool
from promptflow.contracts.multimedia import Image


@tool
def describe(content: list, single: Image) -> str:
    parts = [f"{type(c).__name__}:{getattr(c, '_mime_type', '')}:{len(bytes(c)) if isinstance(c, Image) else c!r}" for c in content]
    return f"{type(single).__name__}:{len(bytes(single))}|" + ";".join(parts)
