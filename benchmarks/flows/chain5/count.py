from promptflow.core import tool


@tool
def count(tokens: list) -> int:
    return sum(len(t) for t in tokens)
