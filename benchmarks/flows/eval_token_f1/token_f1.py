from collections import Counter

from promptflow.core import tool


@tool
def token_f1(answer: str, ground_truth: str) -> float:
    predicted, truth = answer.lower().split(), ground_truth.lower().split()
    common = sum((Counter(predicted) & Counter(truth)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(truth)
    return round(2 * precision * recall / (precision + recall), 4)
