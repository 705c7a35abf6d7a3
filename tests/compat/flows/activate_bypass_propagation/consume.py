from promptflow.core import tool


@tool
def consume(value: dict = None, extra: str = "no extra") -> str:
    return f"value={value!r} extra={extra!r}"
