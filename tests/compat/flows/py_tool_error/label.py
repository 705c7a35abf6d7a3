from promptflow.core import tool


@tool
def label(value: float) -> str:
    return "big" if value > 1 else "small"
