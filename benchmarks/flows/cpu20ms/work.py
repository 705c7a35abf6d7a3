from promptflow.core import tool

ROUNDS = 175_000  # ~20 ms of pure Python on the benchmark machine (benchmarks/ray_engine.py measures it)


@tool
def work(seed: int, rounds: int = ROUNDS) -> int:
    """A linear congruential walk: pure-Python arithmetic, the same result for the same seed anywhere."""
    x = seed
    for i in range(rounds):
        x = (x * 1103515245 + 12345 + i) & 0x7FFFFFFF
    return x
