from promptflow.core import tool


@tool
def grade(answer: str, ground_truth: str) -> int:
    return int(answer.strip().lower() == ground_truth.strip().lower())
