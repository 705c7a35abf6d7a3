from promptflow.core import tool


@tool
def count_up(count: int):
    """Yields ints: a flow output joins them with str()."""
    for i in range(count):
        yield i
