from promptflow.core import tool


@tool
def check(text: str) -> bool:
    return "forbidden" not in text.lower()
