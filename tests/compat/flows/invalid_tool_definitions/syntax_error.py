from promptflow.core import tool


@tool
def broken(text: str) -> str
    return text
