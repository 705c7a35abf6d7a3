from promptflow.core import tool


@tool
def score(count: int, number: int) -> float:
    return round(count / (number + 1), 3)
