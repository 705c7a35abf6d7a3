from typing import List

from promptflow.core import log_metric, tool


@tool
def aggregate(scores: List[float], weights: List[float], label: str) -> dict:
    total = sum(s * w for s, w in zip(scores, weights))
    accuracy = total / len(scores)
    log_metric("accuracy", accuracy)
    log_metric("accuracy", round(accuracy, 3))  # a later call with the same key wins
    log_metric(key="count", value=len(scores))
    log_metric("weighted", total, variant_id="variant_0")
    return {"accuracy": accuracy, "n": len(scores), "label": label, "types": [type(scores).__name__, type(weights).__name__]}
