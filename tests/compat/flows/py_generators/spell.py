from promptflow.core import tool


@tool
def spell(text: str):
    for char in text:
        yield char.upper()
        yield "-"
