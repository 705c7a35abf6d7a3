from promptflow.core import tool


@tool
def refuse_branch(question: str) -> str:
    return f"I cannot help with: {question}"
