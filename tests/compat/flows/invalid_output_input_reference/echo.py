from promptflow.core import tool


@tool
def echo(text: str) -> str:
    return text
