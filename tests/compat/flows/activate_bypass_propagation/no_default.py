from promptflow.core import tool


@tool
def no_default(value, other) -> str:
    return f"value={value!r} other={other!r}"
