from promptflow.core import tool


@tool
def transform(text: str, mode: str) -> str:
    return text.upper() if mode == "upper" else text[::-1]
