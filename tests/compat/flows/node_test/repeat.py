from promptflow.core import tool


@tool
def repeat(text: str, times: int) -> str:
    return " ".join([text] * times)
