from promptflow.core import tool
from promptflow.tracing import trace


@trace
def step(i: int) -> int:
    return i * 2


@tool
def fan(n: int) -> int:
    return sum(step(i) for i in range(n))
