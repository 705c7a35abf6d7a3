from promptflow.core import tool


@tool
def join(v1: int, v2: int, v3: int, v4: int, v5: int, v6: int, v7: int, v8: int) -> int:
    return v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8
