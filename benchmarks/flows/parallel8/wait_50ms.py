import time

from promptflow.core import tool


@tool
def wait_50ms(x: int, k: int) -> int:
    time.sleep(0.05)  # stands for a 50 ms blocking call (an HTTP API, a database)
    return x * k
