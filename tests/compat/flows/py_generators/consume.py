from promptflow.core import tool


@tool
def consume(stream) -> str:
    """A generator passed to another node arrives as an iterable, not a string."""
    kind = "iterable" if not isinstance(stream, (str, list)) else type(stream).__name__
    items = list(stream)
    return f"{kind}: {items}"
