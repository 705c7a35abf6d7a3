from promptflow.core import tool


@tool
def describe(count: int, ratio: float, flag: bool, items: list, config: dict, text: str) -> dict:
    """Report the Python type and value each flow input arrived with."""
    values = {"count": count, "ratio": ratio, "flag": flag, "items": items, "config": config, "text": text}
    return {name: {"type": type(value).__name__, "value": value} for name, value in values.items()}
