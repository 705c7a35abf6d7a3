from promptflow.core import tool


@tool
def first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])
