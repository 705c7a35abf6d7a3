"""True when the answer equals the ground truth, ignoring surrounding whitespace (and case if asked)."""

from promptflow.core import tool


@tool
def exact_match(answer: str, ground_truth: str, ignore_case: bool = False) -> bool:
    answer, ground_truth = str(answer).strip(), str(ground_truth).strip()
    if ignore_case:
        return answer.casefold() == ground_truth.casefold()
    return answer == ground_truth
