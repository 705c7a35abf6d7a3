from promptflow.core import tool


@tool
def hello(name: str) -> str:
    return f"Hello {name}!"
