from promptflow.core import tool


@tool
def mark(label: str) -> str:
    return f"matched {label}"
