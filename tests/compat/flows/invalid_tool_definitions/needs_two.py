from promptflow.core import tool


@tool
def needs_two(text: str, other: str) -> str:
    return f"{text}/{other}"
