from promptflow.core import tool


@tool
def divide(numerator: int, divisor: int) -> float:
    if divisor < 0:
        raise ValueError(f"divisor must not be negative, got {divisor}")
    return numerator / divisor
