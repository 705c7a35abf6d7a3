from promptflow._core.tool import tool


@tool
def add(numbers: list) -> int:
    return sum(numbers)
