from promptflow.core import tool


@tool
def first(text: str) -> str:
    return text


@tool
def second(text: str) -> str:
    return text
