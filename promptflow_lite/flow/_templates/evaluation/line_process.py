from promptflow.core import tool


@tool
def line_process(groundtruth: str, prediction: str) -> str:
    """Judge one line: "Correct" when the prediction matches the ground truth (case ignored)."""
    return "Correct" if groundtruth.strip().lower() == prediction.strip().lower() else "Incorrect"
