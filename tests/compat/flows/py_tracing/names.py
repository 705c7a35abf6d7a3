from promptflow.core import tool
from promptflow.tracing import trace


@trace
async def _async_helper(x: int) -> int:
    return x + 1


@trace
def _helper(x: int) -> str:
    return f"value={x}"


@tool
def names(value: int) -> list:
    return [_helper(value), _helper.__name__, _async_helper.__name__]
