from promptflow.core import tool


@tool
def answer_branch(question: str) -> str:
    return f"Answering: {question}"
