from promptflow.core import tool


@tool
def tokenize(text: str) -> list:
    return text.split(" ")
