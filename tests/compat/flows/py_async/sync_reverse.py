from promptflow.core import tool


@tool
def sync_reverse(text: str) -> str:
    return text[::-1]
