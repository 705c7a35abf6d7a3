from promptflow.core import tool


@tool
def pick(value: str, missing: str = "unused") -> str:
    return value
