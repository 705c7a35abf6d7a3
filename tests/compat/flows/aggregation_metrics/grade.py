from promptflow.core import tool


@tool
def grade(answer: str, groundtruth: str) -> dict:
    correct = answer.strip().lower() == groundtruth.strip().lower()
    return {"verdict": "Correct" if correct else "Incorrect", "score": 1.0 if correct else 0.0}
