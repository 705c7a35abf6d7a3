from promptflow.core import tool


@tool
def decorate(body: str, left: str, right: str) -> str:
    return f"{left}{body}{right}"
