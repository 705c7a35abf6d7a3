from promptflow.core import tool


@tool
def format_result(text: str, score: float) -> str:
    return f"{text[:20]}|{score}"
