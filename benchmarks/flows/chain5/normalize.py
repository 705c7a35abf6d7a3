from promptflow.core import tool


@tool
def normalize(text: str) -> str:
    return " ".join(text.split()).lower()
