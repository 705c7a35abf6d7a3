from promptflow.core import tool
from promptflow.tracing import trace


@trace
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@tool
def fibonacci(n: int) -> int:
    return fib(n)
