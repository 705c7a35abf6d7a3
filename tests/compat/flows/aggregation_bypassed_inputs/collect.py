from promptflow.core import tool


@tool
def collect(a: int = -1, b: int = -1) -> str:
    return f"a={a} b={b}"
