from promptflow.core import tool


@tool
def needs_int(count: int) -> int:
    return count * 2
