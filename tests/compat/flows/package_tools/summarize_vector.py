from typing import List

from promptflow.core import tool


@tool
def summarize_vector(vector: List[float]) -> dict:
    return {
        "dimensions": len(vector),
        "first": [round(x, 6) for x in vector[:3]],
        "norm": round(sum(x * x for x in vector) ** 0.5, 6),
    }
