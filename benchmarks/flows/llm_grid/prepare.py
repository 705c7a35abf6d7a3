from promptflow.core import tool


@tool
def prepare(question: str, context: str) -> dict:
    return {"question": question.strip().rstrip("?") + "?", "context": " ".join(context.split())}
