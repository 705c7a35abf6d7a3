"""True when the answer contains ``substring`` (or, when that is empty, the ground truth)."""

from promptflow.core import tool


@tool
def contains(answer: str, substring: str = "", ground_truth: str = "", case_sensitive: bool = False) -> bool:
    wanted = str(substring or ground_truth or "")
    if not wanted:
        raise ValueError("Nothing to look for: both 'substring' and 'ground_truth' are empty. "
                         "Set substring (pfl eval --evaluator contains:substring=TEXT) or map ground_truth.")
    answer = str(answer)
    if case_sensitive:
        return wanted in answer
    return wanted.casefold() in answer.casefold()
