from promptflow.core import tool


@tool
def merge(answer: str = "", refusal: str = "") -> str:
    return answer or refusal
